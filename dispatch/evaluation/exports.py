"""CSV and XLSX downloads of metric tables and case lists.

CSV is streamed row by row (``StreamingHttpResponse``; UTF-8 with a BOM so spreadsheet programs read the Chinese
right), so a case list of any length costs constant memory. XLSX is written by openpyxl in write-only mode (constant
memory) to a temporary file that is then streamed in chunks; a sheet holds at most 1,048,575 rows (Excel's limit).
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator

from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from config.errors import Unprocessable

from .indicators import INDICATORS

XLSX_MAX_ROWS = 1_048_575
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value):
    """A value as a spreadsheet cell that cannot run: numbers stay numbers; a text starting with = + - @ tab or CR
    (a citizen's description like ``=HYPERLINK(…)``) is prefixed with ' so that Excel, WPS and LibreOffice show it
    as text instead of evaluating it (OWASP "CSV injection"). Every export goes through here."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _Echo:
    def write(self, value):
        return value


def csv_lines(header: list, rows: Iterable[list]) -> Iterator[bytes]:
    writer = csv.writer(_Echo())
    yield "\ufeff".encode()
    yield writer.writerow([cell(h) for h in header]).encode()
    for row in rows:
        yield writer.writerow([cell(v) for v in row]).encode()


def csv_response(filename: str, header: list, rows: Iterable[list]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(csv_lines(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


def _xlsx_write(target, sheets: list[tuple[str, list, Iterable[list]]]) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    for title, header, rows in sheets:
        sheet = book.create_sheet(title=title[:31] or "Sheet")
        sheet.append([cell(h) for h in header])
        for count, row in enumerate(rows, start=1):
            if count > XLSX_MAX_ROWS:
                raise Unprocessable(_("more than %(n)s rows do not fit in one XLSX sheet; download CSV")
                                    % {"n": f"{XLSX_MAX_ROWS:,}"},
                                    field="export")
            sheet.append([None if v is None else cell(v) for v in row])
    book.save(target)


def xlsx_bytes(sheets: list[tuple[str, list, Iterable[list]]]) -> bytes:
    buffer = io.BytesIO()
    _xlsx_write(buffer, sheets)
    return buffer.getvalue()


def xlsx_response(filename: str, sheets: list[tuple[str, list, Iterable[list]]]) -> FileResponse:
    handle = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 (FileResponse closes it)
    _xlsx_write(handle, sheets)
    handle.seek(0)
    return FileResponse(handle, as_attachment=True, filename=f"{filename}.xlsx", content_type=XLSX_TYPE)


def export_response(kind: str, filename: str, sheets: list[tuple[str, list, Iterable[list]]]):
    """``kind`` csv (the first sheet) or xlsx."""
    if kind == "csv":
        _title, header, rows = sheets[0]
        return csv_response(filename, header, rows)
    return xlsx_response(filename, sheets)


# --- Tables ------------------------------------------------------------------------------------------------------------
def indicator_sheet(table) -> tuple[str, list, Iterator[list]]:
    """An indicator table as one sheet: key, name, then each indicator's value (and numerator, denominator)."""
    codes = list(table.total["indicators"])
    header = [_("Code"), _("Name")]
    for code in codes:
        indicator = INDICATORS[code]
        title = str(indicator.title)
        header.append(title)
        if indicator.kind != "count":
            header += [_("%(indicator)s: numerator") % {"indicator": title},
                       _("%(indicator)s: denominator") % {"indicator": title}]

    def line(key, name, figures):
        row = [key, name]
        for code in codes:
            figure = figures[code]
            row.append(figure["value"])
            if INDICATORS[code].kind != "count":
                row += [figure["numerator"], figure["denominator"]]
        return row

    def rows():
        for row in table.rows:
            yield line(row["key"], row["name"], row["indicators"])
        yield line(_("Total"), "", table.total["indicators"])

    return _("Indicators"), header, rows()


def component_title(component: str) -> str:
    """A score component's column title in the reader's language: the indicator's title, or "1 − <title>" for a
    lower-is-better weight written ``1-<indicator>`` (dispatch/evaluation/scores.py)."""
    code = component.removeprefix("1-")
    indicator = INDICATORS.get(code)
    title = str(indicator.title) if indicator is not None else code
    return _("1 − %(indicator)s") % {"indicator": title} if component.startswith("1-") else title


def ranking_sheet(ranking) -> tuple[str, list, Iterator[list]]:
    components = list(ranking.weights)
    header = [_("Rank"), _("Code"), _("Name"), _("Score"), _("Grade"), _("Sample"),
              *[component_title(c) for c in components]]

    def rows():
        for entry in ranking.entries:
            yield [entry["rank"], entry["key"], entry["name"], entry["score"], entry["grade"], entry["sample"],
                   *[entry["components"][c]["value"] for c in components]]

    return _("Ranking"), header, rows()


def _local(moment):
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def case_sheet(cases, *, weighted: bool = False) -> tuple[str, list, Iterator[list]]:
    """Case list rows (the case list API's fields, flat), streamed from the queryset."""
    header = [_("Case number"), _("State"), _("Close reason"), _("Channel"), _("Category code"), _("Category"),
              _("Urgency"), _("Region code"), _("District"), _("Street"), _("Unit grid"), _("Department"),
              _("Created at"), _("Closed at"), _("Address"), _("Description")]
    if weighted:
        header.append(_("Count"))

    def rows():
        for case in cases.iterator(chunk_size=2000):
            row = [
                case.number, case.get_state_display(), case.get_close_reason_display(), case.get_channel_display(),
                case.category.code if case.category_id else "",
                f"{case.category.major_name}/{case.category.minor_name}" if case.category_id else "",
                case.get_urgency_display(), case.region_code,
                case.district.name if case.district_id else "", case.street.name if case.street_id else "",
                case.grid.name if case.grid_id else "", case.department.name if case.department_id else "",
                _local(case.created_at), _local(case.closed_at), case.address, case.description,
            ]
            if weighted:
                row.append(case.weight)
            yield row

    return _("Cases"), header, rows()
