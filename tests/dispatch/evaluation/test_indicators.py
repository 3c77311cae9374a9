"""Each indicator on a hand-built set of cases with known answers (tests/dispatch/evaluation/conftest.py), through
the rollups, the indicator tables and the cases behind each figure."""

from datetime import date

import pytest

from dispatch.evaluation.direct import direct_mismatches
from dispatch.evaluation.rollups import rollups_catch_up
from dispatch.evaluation.selectors import MetricsScope, Period, figure_cases, indicator_table
from dispatch.models.evaluation import COUNTERS, DailyFact
from tests.conftest import client_for

from .conftest import EXPECTED, scenario

pytestmark = pytest.mark.django_db
MON, TUE, WED = date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)
THREE_DAYS = Period(MON, WED)


def totals():
    out = dict.fromkeys(COUNTERS, 0)
    for row in DailyFact.objects.values(*COUNTERS):
        for name in COUNTERS:
            out[name] += row[name]
    return {name: value for name, value in out.items() if value}


@pytest.fixture
def built(world, clock):
    cases = scenario(world, clock)
    rollups_catch_up()
    return cases


def test_the_rollups_count_the_hand_built_cases_as_worked_out_by_hand(built):
    assert totals() == EXPECTED
    assert direct_mismatches() == []


def test_every_indicator_of_the_hand_built_cases(built):
    table = indicator_table(user=None, group_by="city", period=THREE_DAYS, scope=MetricsScope())
    (row,) = table.rows
    assert row["key"] == "990100" and row["name"] == "测试市"
    figures = row["indicators"]

    def ratio(code):
        return figures[code]["numerator"], figures[code]["denominator"]

    assert figures["reported"]["value"] == 12
    assert ratio("valid_report_rate") == (9, 12) and figures["valid_report_rate"]["value"] == 0.75
    assert ratio("missed_report_rate") == (2, 9)
    assert figures["accepted"]["value"] == 9
    assert ratio("on_time_accept_rate") == (9, 9)
    assert ratio("accurate_accept_rate") == (8, 9)  # the cancelled case
    assert figures["voided"]["value"] == 1
    assert figures["dispatched"]["value"] == 9
    assert ratio("on_time_dispatch_rate") == (9, 9)
    assert ratio("accurate_dispatch_rate") == (8, 9) and ratio("return_rate") == (1, 9)
    assert figures["handled"]["value"] == 7
    assert ratio("handling_rate") == (7, 7)
    assert ratio("on_time_handling_rate") == (6, 7)  # the late one; extended and suspended ones are on time
    assert ratio("rework_rate") == (1, 7) and ratio("extension_rate") == (1, 7)
    assert ratio("on_time_check_rate") == (9, 9)
    assert figures["closed"]["value"] == 8 and figures["closed_self_handled"]["value"] == 1
    assert figures["due"]["value"] == 8  # cancelled and merged excluded
    assert ratio("closure_rate") == (8, 8)
    assert ratio("on_time_closure_rate") == (7, 8) and ratio("late_closure_rate") == (1, 8)
    assert ratio("first_time_rate") == (5, 8)  # not the reworked, returned or reopened ones
    assert ratio("satisfaction_rate") == (1, 2)  # the reopened case was rated 2, then 5
    assert ratio("recurrence_rate") == (0, 8) and figures["recurrence_rate"]["value"] == 0
    hours = (100 + 1520 + 140 + 80 + 440 + 3020 + 140) / 60
    assert figures["avg_handling_hours"]["denominator"] == 7
    assert figures["avg_handling_hours"]["value"] == round(hours / 7, 2)
    assert figures["p90_handling_hours"]["value"] == 72.0 and figures["p90_handling_hours"]["approximate"]
    assert figures["escalated"]["value"] == 0
    assert table.total["indicators"] == figures


def test_days_split_the_volumes_and_the_rates_stay_with_their_cohort(built):
    def city(first, last, code):
        (row,) = indicator_table(user=None, group_by="city", period=Period(first, last), scope=MetricsScope()).rows
        return row["indicators"][code]

    assert city(MON, MON, "closed")["value"] == 6
    assert city(TUE, TUE, "closed")["value"] == 1  # the late one
    assert city(WED, WED, "closed")["value"] == 1  # the suspended one
    assert city(TUE, TUE, "handled")["value"] == 1
    # 立案 was Monday for all: Tuesday and Wednesday have no cohort, so no rate (never 0 % or 100 %)
    assert city(TUE, WED, "closure_rate")["value"] is None
    assert city(MON, MON, "on_time_closure_rate")["numerator"] == 7


def test_departments_get_their_dispatches_returns_and_handling(world, built):
    table = indicator_table(user=None, group_by="department", period=THREE_DAYS, scope=MetricsScope())
    rows = {row["key"]: row for row in table.rows}
    returned_by = rows[world.dept_y.code]["indicators"]
    assert returned_by["dispatched"]["value"] == 1 and returned_by["return_rate"]["value"] == 1.0
    assert returned_by["handling_rate"]["value"] is None  # nothing left with it
    main = rows[world.dept.code]["indicators"]
    assert main["dispatched"]["value"] == 8 and main["return_rate"]["numerator"] == 0
    assert (main["on_time_handling_rate"]["numerator"], main["on_time_handling_rate"]["denominator"]) == (6, 7)
    assert rows[""]["indicators"]["reported"]["value"] == 12  # reports have no department yet
    assert sum(r["indicators"]["reported"]["value"] for r in table.rows) == 12


def test_every_figure_leads_to_the_cases_behind_it(world, built):
    """For every counter of every department row, the cases listed with the row's filter weigh the number."""
    client = client_for(world.supervisor)
    table = client.get("/api/v1/metrics/indicators/", {"group_by": "department", "from": "2026-03-02",
                                                         "to": "2026-03-04"}).json()
    checked = 0
    for row in table["rows"]:
        for counter, value in row["counters"].items():
            if not value:
                continue
            listed = client.get("/api/v1/metrics/cases/", {**row["filter"], "counter": counter,
                                                           "page_size": 500}).json()
            assert sum(case["weight"] for case in listed["results"]) == value, (row["key"], counter)
            checked += 1
    assert checked > 40


def test_the_cases_behind_single_figures_are_the_right_ones(world, built):
    def numbers(counter, **filters):
        return {c.number for c in figure_cases(scope=MetricsScope(), counter=counter, period=THREE_DAYS,
                                                **filters)}

    assert numbers("due_closed_late") == {built["late"].number}
    assert numbers("reworks") == {built["reworked"].number}
    assert numbers("extensions") == {built["extended"].number}
    assert numbers("voided") == {built["cancelled"].number}
    assert numbers("closed_self_handled") == {built["self_handled"].number}
    assert numbers("dispatch_returned", department=world.dept_y.code) == {built["returned"].number}
    assert numbers("reported", category="none") == {built["merged"].number, built["rejected"].number,
                                                    built["rejected_target"].number}
    first_time = numbers("first_time")
    assert built["reopened"].number not in first_time and built["suspended"].number in first_time
