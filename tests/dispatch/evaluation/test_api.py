"""The metrics API: scope (supervisor → region, handler → own department, others 403), every bad input named in the
issue answered 400 with the field, rankings, and exports that open in a real CSV / XLSX parser."""

import csv
import io

import openpyxl
import pytest
from django.utils import translation
from django.utils.translation import gettext

from dispatch.evaluation.indicators import INDICATORS
from dispatch.evaluation.rollups import rollups_catch_up
from dispatch.evaluation.scores import DEFAULT_WEIGHTS
from grids.models import Role
from tests.conftest import client_for
from tests.factories import make_user

from .conftest import scenario

pytestmark = pytest.mark.django_db
DAYS = {"from": "2026-03-02", "to": "2026-03-04"}


@pytest.fixture
def built(world, clock):
    cases = scenario(world, clock)
    rollups_catch_up()
    return cases


def test_a_supervisor_sees_their_region_and_nothing_outside(world, built):
    client = client_for(world.supervisor)  # supervisor of district 990101
    response = client.get("/api/v1/metrics/indicators/", {**DAYS, "group_by": "street"})
    assert response.status_code == 200
    body = response.json()
    assert [row["key"] for row in body["rows"]] == ["990101001"]  # the merge target sits in grid …002 of the same
    assert body["total"]["indicators"]["reported"]["value"] == 12
    outside = client.get("/api/v1/metrics/indicators/", {**DAYS, "region": "990102"}, HTTP_ACCEPT_LANGUAGE="en")
    assert outside.status_code == 403 and "outside the area you supervise" in outside.json()["detail"]
    inside = client.get("/api/v1/metrics/indicators/", {**DAYS, "region": "990101002", "group_by": "grid"})
    assert inside.status_code == 200 and inside.json()["rows"] == []
    other = make_user("sup_west", (Role.SUPERVISOR, world.regions["990102"]))
    body = client_for(other).get("/api/v1/metrics/indicators/", DAYS).json()
    assert body["rows"] == [] and body["total"]["indicators"]["reported"]["value"] == 0


def test_a_department_sees_its_own_figures_only(world, built):
    client = client_for(world.handler_y)
    body = client.get("/api/v1/metrics/indicators/", {**DAYS, "group_by": "department"}).json()
    assert [row["key"] for row in body["rows"]] == [world.dept_y.code]
    assert body["rows"][0]["indicators"]["return_rate"]["value"] == 1.0
    assert body["rows"][0]["filter"]["department"] == world.dept_y.code
    assert client.get("/api/v1/metrics/indicators/", {**DAYS, "department": world.dept.code}).status_code == 403
    by_grid = client.get("/api/v1/metrics/indicators/", {**DAYS, "group_by": "grid"}).json()
    assert by_grid["total"]["indicators"]["dispatched"]["value"] == 1
    listed = client.get("/api/v1/metrics/cases/", {**DAYS, "counter": "dispatch_returned"}).json()
    assert [c["number"] for c in listed["results"]] == [built["returned"].number]  # no longer theirs, still listed
    ranking = client.get("/api/v1/metrics/rankings/", {"object": "department", "period": "2026-03"}).json()
    assert [e["key"] for e in ranking["entries"]] == [world.dept_y.code]
    assert client.get("/api/v1/metrics/rankings/", {"object": "region", "period": "2026-03"}).status_code == 403
    assert client.get("/api/v1/metrics/briefings/", {"region": "990101"}).status_code == 403


@pytest.mark.parametrize("who", ["worker", "dispatcher", "operator"])
def test_other_roles_get_403(world, who):
    response = client_for(getattr(world, who)).get("/api/v1/metrics/indicators/")
    assert response.status_code == 403
    assert client_for(getattr(world, who)).get("/api/v1/metrics/rankings/", {"object": "department"}
                                              ).status_code == 403


@pytest.mark.parametrize(("url", "params", "field"), [
    ("indicators", {"group_by": "ward"}, "group_by"),
    ("indicators", {"from": "2026-13-01"}, "from"),
    ("indicators", {"to": "yesterday"}, "to"),
    ("indicators", {"from": "2026-03-05", "to": "2026-03-01"}, "to"),
    ("indicators", {"from": "2000-01-01", "to": "2026-03-01"}, "to"),
    ("indicators", {"period": "2026-13"}, "period"),
    ("indicators", {"period": "2026-W60"}, "period"),
    ("indicators", {"period": "2026-03", "from": "2026-03-01"}, "period"),
    ("indicators", {"region": "990199"}, "region"),
    ("indicators", {"department": "nope"}, "department"),
    ("indicators", {"category": "X9999"}, "category"),
    ("indicators", {"channel": "fax"}, "channel"),
    ("indicators", {"indicators": "reported,happiness"}, "indicators"),
    ("indicators", {"export": "pdf"}, "export"),
    ("rankings", {}, "object"),
    ("rankings", {"object": "team"}, "object"),
    ("rankings", {"object": "region", "level": "city"}, "level"),
    ("rankings", {"object": "position", "role": "handler"}, "role"),
    ("cases", {}, "counter"),
    ("cases", {"counter": "happiness"}, "counter"),
    ("cases", {"counter": "closed", "unplaced": "city"}, "unplaced"),
    ("cases", {"counter": "closed", "person": "abc"}, "person"),
    ("cases", {"counter": "closed", "department": "nope"}, "department"),
    ("cases", {"counter": "closed", "category": "X9999"}, "category"),
    ("case-export", {"status": "lost"}, "status"),
    ("case-export", {"export": "pdf"}, "export"),
    ("briefings", {}, "region"),
    ("briefings", {"region": "990101", "date": "2999-01-01"}, "date"),
    ("briefings", {"region": "990101", "date": "03/05"}, "date"),
    ("briefings", {"region": "990199"}, "region"),
    ("briefings", {"region": "990101", "export": "pdf"}, "export"),
    ("blacklist", {"object": "team"}, "object"),
])
def test_bad_inputs_are_400_naming_the_field(world, url, params, field):
    admin = make_user("boss", (Role.ADMIN, None))
    response = client_for(admin).get(f"/api/v1/metrics/{url}/", params)
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"], response.json()


def test_rankings_rank_score_and_grade(world, built, settings):
    settings.GRIDLOOP_EVAL_MIN_SAMPLE = 2
    client = client_for(world.supervisor)
    body = client.get("/api/v1/metrics/rankings/", {"object": "department", "period": "2026-03"}).json()
    entries = {e["key"]: e for e in body["entries"]}
    main = entries[world.dept.code]
    assert main["rank"] == 1 and main["sample"] == 7 and main["ranked"]
    # 处置率 7/7 ×30 + 按期处置率 6/7 ×20 + (1 − 返工率 1/7) ×20 + (1 − 超期结案率 1/8) ×20 + (1 − 延期率 1/7) ×10
    # (超期结案率 over the department's own 应结案: 1 of 7 — the case handled on the spot has no department)
    expected = (30 * 1 + 20 * 6 / 7 + 20 * 6 / 7 + 20 * 6 / 7 + 10 * 6 / 7) / 100 * 100
    assert main["score"] == round(expected, 2) == 90.0 and main["grade"] == "A"
    assert entries[world.dept_y.code]["rank"] is None and entries[world.dept_y.code]["sample"] == 0
    assert body["lists"]["red"] == [] and body["lists"]["stored"] == {"red": [], "yellow": [], "black": []}
    streets = client.get("/api/v1/metrics/rankings/", {"object": "region", "level": "street", **DAYS}).json()
    assert [e["key"] for e in streets["entries"]] == ["990101001"]
    workers = client.get("/api/v1/metrics/rankings/", {"object": "position", "role": "grid_worker", **DAYS}).json()
    (worker,) = workers["entries"]
    assert worker["key"] == "worker" and worker["components"]["1-missed_report_rate"]["value"] == round(2 / 9, 4)
    dispatchers = client.get("/api/v1/metrics/rankings/", {"object": "position", "role": "dispatcher", **DAYS}).json()
    assert [e["key"] for e in dispatchers["entries"]] == ["dispatcher"]


def zh(*texts):
    """The Chinese (default language) of the export's English source strings."""
    with translation.override("zh-hans"):
        return [gettext(text) for text in texts]


def _csv(response):
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def _xlsx(response):
    content = b"".join(response.streaming_content) if response.streaming else response.content
    book = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    return {sheet.title: [list(row) for row in sheet.iter_rows(values_only=True)] for sheet in book.worksheets}


def test_exports_open_in_real_parsers(world, built):
    client = client_for(world.supervisor)
    response = client.get("/api/v1/metrics/indicators/", {**DAYS, "group_by": "district", "export": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = _csv(response)
    assert rows[0][:3] == zh("Code", "Name", "reports") and rows[1][0] == "990101" and rows[1][2] == "12"
    assert rows[-1][0] == zh("Total")[0]
    sheets = _xlsx(client.get("/api/v1/metrics/indicators/", {**DAYS, "group_by": "category", "export": "xlsx"}))
    (table,) = sheets.values()
    assert table[0][2] == zh("reports")[0] and sum(row[2] for row in table[1:-1]) == 12
    english = client.get("/api/v1/metrics/indicators/", {**DAYS, "export": "csv"}, HTTP_ACCEPT_LANGUAGE="en")
    assert _csv(english)[0][:2] == ["Code", "Name"]
    ranking = _csv(client.get("/api/v1/metrics/rankings/", {"object": "department", "period": "2026-03",
                                                            "export": "csv"}))
    assert ranking[0][:4] == zh("Rank", "Code", "Name", "Score") and len(ranking) == 3
    cases = _csv(client.get("/api/v1/metrics/cases/", {**DAYS, "counter": "closed", "export": "csv"}))
    assert len(cases) == 1 + 8 and cases[0][0] == zh("Case number")[0] and {row[-1] for row in cases[1:]} == {"1"}
    listed = _xlsx(client.get("/api/v1/metrics/case-export/", {"export": "xlsx", "status": "closed"}))
    (rows,) = listed.values()
    assert len(rows) == 1 + 8 and {r[1] for r in rows[1:]} == {"已结案"}  # state labels are translated already
    everything = _csv(client.get("/api/v1/metrics/case-export/", {"export": "csv"}))
    assert len(everything) == 1 + 12


def test_a_case_list_export_is_scoped_like_the_case_list(world, built):
    rows = _csv(client_for(world.dispatcher_b).get("/api/v1/metrics/case-export/"))
    assert rows[1:] == []  # the street-B dispatcher sees none of street A's cases
    rows = _csv(client_for(world.dispatcher).get("/api/v1/metrics/case-export/", {"channel": "hotline"}))
    assert len(rows) == 1 + 5  # 7, 8, 9, 11 and the merge target


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_ranking_csv_headers_are_all_in_the_readers_language(world, built, language):
    response = client_for(world.supervisor).get(
        "/api/v1/metrics/rankings/", {"object": "department", "period": "2026-03", "export": "csv"},
        HTTP_ACCEPT_LANGUAGE=language)
    header = _csv(response)[0]
    with translation.override(language):
        titles = [str(INDICATORS[c.removeprefix("1-")].title) for c in DEFAULT_WEIGHTS["department"]]
        expected = [gettext(t) for t in ("Rank", "Code", "Name", "Score", "Grade", "Sample")]
    assert header[:6] == expected
    assert [column.removeprefix("1 − ") for column in header[6:]] == titles
    assert not [column for column in header if "_" in column], header
