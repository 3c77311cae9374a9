"""Reading a UTF-8 CSV for an all-or-nothing import, with line numbers for the error messages."""

import csv
from pathlib import Path


def csv_rows(path: Path | str, *, required: list[str], error: type[Exception]) -> list[tuple[int, dict]]:
    """(line number, row) for every data row; ``error([message])`` when a required column is missing or the file
    cannot be read as UTF-8 CSV (a BOM is allowed)."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise error([f"line 1: missing columns: {', '.join(missing)}"])
            return [(reader.line_num, row) for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise error([f"{path}: cannot read as UTF-8 CSV: {exc}"]) from exc
