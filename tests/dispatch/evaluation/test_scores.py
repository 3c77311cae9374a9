"""Composite scores, grade boundaries, ranks with a minimum sample, the red/yellow lists and the yellow → black rule."""

from datetime import date, datetime

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from dispatch.evaluation import scores
from dispatch.evaluation.scores import (
    DEFAULT_WEIGHTS,
    Ranking,
    composite,
    grade,
    league_table_compute,
    listings,
    weights,
)
from dispatch.evaluation.selectors import Period
from dispatch.models.evaluation import BlackListing, LeagueEntry, LeagueTable
from grids.models import Region

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("score", "letter"), [
    (100, "A"), (90, "A"), (89.99, "B"), (75, "B"), (74.99, "C"), (60, "C"), (59.99, "D"), (40, "D"),
    (39.99, "E"), (0, "E"), (None, ""),
])
def test_grade_boundaries(score, letter):
    assert grade(score) == letter


def test_composite_is_the_weighted_mean_with_inverted_components_and_missing_ones_left_out():
    weight_set = {"closure_rate": 30, "1-rework_rate": 20, "satisfaction_rate": 50}
    score, parts = composite({"closure_rate": 0.9, "rework_rate": 0.1, "satisfaction_rate": None}, weight_set)
    assert score == round((30 * 0.9 + 20 * 0.9) / 50 * 100, 2) == 90.0
    assert parts["satisfaction_rate"] == {"value": None, "weight": 50, "points": None}
    assert parts["1-rework_rate"]["points"] == 18.0
    assert composite({"closure_rate": None}, {"closure_rate": 1}) == (None, {"closure_rate": {
        "value": None, "weight": 1, "points": None}})
    assert composite({"closure_rate": 1.0, "rework_rate": 0.0}, {"closure_rate": 1, "1-rework_rate": 1})[0] == 100.0


def test_the_default_department_weights_are_the_reference_formula():
    assert DEFAULT_WEIGHTS["department"] == {"handling_rate": 30, "on_time_handling_rate": 20, "1-rework_rate": 20,
                                             "1-late_closure_rate": 20, "1-extension_rate": 10}
    assert sum(DEFAULT_WEIGHTS["grid_worker"].values()) == 100


def test_weights_come_from_the_setting_over_the_defaults(settings):
    settings.GRIDLOOP_EVAL_WEIGHTS = '{"department": {"handling_rate": 1, "1-rework_rate": 3}}'
    assert weights()["department"] == {"handling_rate": 1, "1-rework_rate": 3}
    assert weights()["region"] == DEFAULT_WEIGHTS["region"]
    for bad, message in [
        ("{not json", "not valid JSON"), ("[1]", "must be a JSON object"), ('{"street": {"x": 1}}', "unknown weight"),
        ('{"region": {"reported": 1}}', "not a rate indicator"), ('{"region": {"closure_rate": 0}}', "above 0"),
        ('{"region": {}}', "non-empty"), ('{"region": {"closure_rate": true}}', "above 0"),
    ]:
        settings.GRIDLOOP_EVAL_WEIGHTS = bad
        with pytest.raises(ImproperlyConfigured, match=message):
            weights()


def _entries(*rows):
    return [{"key": key, "name": key, "score": score, "sample": sample, "ranked": score is not None and ranked,
             "rank": None, "grade": grade(score), "components": {}} for key, score, sample, ranked in rows]


def test_equal_scores_share_a_rank_and_small_samples_are_not_ranked():
    entries = _entries(("a", 80, 50, True), ("b", 95, 3, False), ("c", 80, 40, True), ("d", 70, 40, True),
                       ("e", None, 40, True))
    scores._rank(entries)
    assert [(e["key"], e["rank"]) for e in entries] == [("a", 1), ("c", 1), ("d", 3), ("b", None), ("e", None)]


def test_red_and_yellow_lists_never_overlap(settings):
    settings.GRIDLOOP_EVAL_LIST_SIZE = 3
    entries = _entries(*[(k, 100 - i, 50, True) for i, k in enumerate("abcdefgh")])
    scores._rank(entries)
    assert listings(entries) == {"red": ["a", "b", "c"], "yellow": ["f", "g", "h"]}
    few = entries[:4]
    assert listings(few) == {"red": ["a", "b"], "yellow": ["c", "d"]}
    assert listings(entries[:1]) == {"red": [], "yellow": []}


@pytest.fixture
def fixed_rankings(monkeypatch):
    """league_table_compute over rankings given per month: {month: [(key, score)]} (all ranked)."""
    plan = {}

    def fake(*, object, kind, period, scope):
        entries = _entries(*[(key, score, 100, True) for key, score in plan[period.first]])
        scores._rank(entries)
        return Ranking(object, kind, period, "department", DEFAULT_WEIGHTS["department"], 20, entries)

    monkeypatch.setattr(scores, "ranking_compute", fake)
    return plan


def test_two_yellow_listings_within_twelve_months_put_a_unit_on_the_black_list(city, fixed_rankings, settings):
    settings.GRIDLOOP_EVAL_LIST_SIZE = 1
    settings.GRIDLOOP_EVAL_RECTIFY_DAYS = 30
    testcity = Region.objects.get(code="990100")
    good, bad = ("good", 90), ("bad", 30)
    months = [date(2025, 1, 1), date(2025, 6, 1), date(2026, 1, 1), date(2026, 2, 1)]
    for month in months:
        fixed_rankings[month] = [good, ("mid", 60), bad]
    fixed_rankings[date(2025, 6, 1)] = [good, ("mid", 60), ("bad", 65)]  # bad was not yellow in June 2025

    def compute(month):
        return league_table_compute(month=month, object="department", kind="", city=testcity,
                                    now=datetime.fromisoformat(f"{month.isoformat()}T02:00:00+00:00"))

    table = compute(months[0])
    assert {e.key: e.listing for e in table.entries.all()} == {"good": "red", "mid": "", "bad": "yellow"}
    assert not BlackListing.objects.exists()
    compute(months[1])
    compute(months[2])  # Jan 2026: bad yellow again, but January 2025 is 12 months back: not within the window
    assert not BlackListing.objects.exists()
    compute(months[3])  # Feb 2026: yellow in Jan 2026 and now → black
    (listing,) = BlackListing.objects.all()
    assert (listing.key, listing.month, listing.yellow_months) == ("bad", date(2026, 2, 1), ["2026-01", "2026-02"])
    assert listing.rectify_by == date(2026, 3, 3)  # 30 days after the listing on 1 February
    compute(months[3])  # recomputing the month replaces, never duplicates
    assert BlackListing.objects.count() == 1 and LeagueTable.objects.count() == 4
    assert LeagueEntry.objects.filter(table__month=months[3]).count() == 3


@pytest.mark.usefixtures("in_english")
def test_league_tables_need_a_city(city):
    from config.errors import InvalidInput

    with pytest.raises(InvalidInput, match="not a city"):
        league_table_compute(month=date(2026, 3, 1), object="department", kind="",
                             city=Region.objects.get(code="990101"))


def test_league_tables_command_stores_every_table(world, capsys):
    call_command("league_tables", "--month", "2026-02")
    out = capsys.readouterr().out
    assert LeagueTable.objects.filter(month=date(2026, 2, 1)).count() == 5
    assert "department" in out and "grid_worker" in out
    with pytest.raises(CommandError, match="not a month"):
        call_command("league_tables", "--month", "2026-13")


@pytest.mark.usefixtures("in_english")
def test_ranking_kinds_are_checked(world):
    from config.errors import InvalidInput
    from dispatch.evaluation.scores import ranking_compute
    from dispatch.evaluation.selectors import MetricsScope

    period = Period(date(2026, 3, 1), date(2026, 3, 31))
    with pytest.raises(InvalidInput, match="level must be one of"):
        ranking_compute(object="region", kind="city", period=period, scope=MetricsScope())
    with pytest.raises(InvalidInput, match="role must be one of"):
        ranking_compute(object="position", kind="handler", period=period, scope=MetricsScope())
    with pytest.raises(InvalidInput, match="object must be one of"):
        ranking_compute(object="team", kind="", period=period, scope=MetricsScope())
