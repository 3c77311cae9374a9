"""Writes for the events app. (Case intake and transitions arrive with the case lifecycle issue.)"""

import csv
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from config.errors import InvalidInput
from grids.models import DepartmentType

from .models import KIND_LETTER, Category, CategoryKind, LimitUnit, Urgency

CATEGORY_COLUMNS = [
    "kind", "major_code", "major_name", "minor_code", "minor_name",
    "default_urgency", "handling_limit", "limit_unit", "department_type",
]
DEFAULT_CATEGORIES_CSV = Path(__file__).resolve().parent / "data" / "categories.csv"


class CategoryLoadError(InvalidInput):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("categories not loaded, nothing was written:\n" + "\n".join(problems))


@dataclass(frozen=True)
class CategoryLoadSummary:
    created: int
    updated: int


def _check_row(line: int, row: dict, problems: list[str]) -> dict | None:
    before = len(problems)

    def bad(field, why):
        problems.append(f"line {line}, field {field}: {why} (got {row.get(field)!r})")

    values = {key: (row.get(key) or "").strip() for key in CATEGORY_COLUMNS}
    if values["kind"] not in CategoryKind.values:
        bad("kind", f"must be one of {', '.join(CategoryKind.values)}")
    for field in ("major_code", "minor_code"):
        if not (values[field].isdigit() and len(values[field]) == 2):
            bad(field, "must be two digits")
    for field in ("major_name", "minor_name"):
        if not values[field] or len(values[field]) > 50:
            bad(field, "must be 1–50 characters")
    if values["default_urgency"] not in Urgency.values:
        bad("default_urgency", f"must be one of {', '.join(Urgency.values)}")
    if not values["handling_limit"].isdigit() or int(values["handling_limit"]) <= 0:
        bad("handling_limit", "must be a whole number above 0")
    if values["limit_unit"] not in LimitUnit.values:
        bad("limit_unit", f"must be one of {', '.join(LimitUnit.values)}")
    if values["department_type"] not in DepartmentType.values:
        bad("department_type", f"must be one of {', '.join(DepartmentType.values)}")
    if len(problems) > before:
        return None
    values["handling_limit"] = int(values["handling_limit"])
    values["code"] = KIND_LETTER[values["kind"]] + values["major_code"] + values["minor_code"]
    return values


def categories_load(*, path: Path | str = DEFAULT_CATEGORIES_CSV) -> CategoryLoadSummary:
    """Create or update categories from a CSV with the columns of shared/domain/categories.csv. All-or-nothing;
    every problem names its line and field. Categories missing from the file are left as they are."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in CATEGORY_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise CategoryLoadError([f"line 1: missing columns: {', '.join(missing)}"])
            rows = [(reader.line_num, row) for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CategoryLoadError([f"{path}: cannot read as UTF-8 CSV: {exc}"]) from exc

    problems: list[str] = []
    checked: dict[str, tuple[int, dict]] = {}
    for line, row in rows:
        values = _check_row(line, row, problems)
        if values is None:
            continue
        if values["code"] in checked:
            problems.append(f"line {line}: duplicate category {values['code']}, first on line {checked[values['code']][0]}")
            continue
        checked[values["code"]] = (line, values)
    if not rows:
        problems.append("the file has no category rows")
    if problems:
        raise CategoryLoadError(problems)

    created = updated = 0
    with transaction.atomic():
        for _line, values in checked.values():
            _, was_created = Category.objects.update_or_create(code=values["code"], defaults=values)
            created += was_created
            updated += not was_created
    return CategoryLoadSummary(created=created, updated=updated)


@transaction.atomic
def category_set_active(*, category: Category, active: bool) -> Category:
    """Deactivate (or reactivate) a category: it stays on old cases but is no longer offered for new ones."""
    category.active = active
    category.save(update_fields=["active"])
    return category
