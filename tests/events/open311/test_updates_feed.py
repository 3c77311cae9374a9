"""servicerequestupdates (mySociety's extension): one update per state change of a public case, from the case event
log, with the detailed statuses; paged, and readable from a point in time on."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from tests.events.conftest import act, file_hotline
from tests.events.open311.conftest import UPDATE_FIELDS, children, errors, file_request, json_of, url, xml_of

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def at(moment):
    return time_machine.travel(moment, tick=False)


def feed(client, **params) -> list[dict]:
    return json_of(client.get(url("servicerequestupdates", "json"), params))


@pytest.fixture
def history(o311, world, api_key):
    """A request filed at T0, accepted +1 h, dispatched +2 h, urged +3 h (internal), returned +4 h; a hotline case."""
    with at(T0):
        number = file_request(o311, world, api_key)
        file_hotline(world)
    with at(T0 + timedelta(hours=1)):
        act(number, "accept", world.dispatcher)
    with at(T0 + timedelta(hours=2)):
        act(number, "dispatch", world.dispatcher, department=world.dept.code)
    with at(T0 + timedelta(hours=3)):
        act(number, "urge", world.supervisor, note="请尽快处理")
    with at(T0 + timedelta(hours=4)):
        act(number, "return", world.handler, reason="非本单位职责")
    return number


def test_the_feed_xml_has_one_update_per_state_change(o311, history):
    with at(T0 + timedelta(days=1)):
        root = xml_of(o311.get(url("servicerequestupdates", "xml")))
    assert root.tag == "service_request_updates"
    updates = root.findall("request_update")
    assert len(updates) == len(list(root)) == 4  # the urge keeps the state: internal; the hotline case: not public
    rows = [children(update) for update in updates]
    for row in rows:
        assert list(row)[:len(UPDATE_FIELDS)] == UPDATE_FIELDS
        assert row["service_request_id"] == history and row["description"]
    assert [row["status"] for row in rows] == ["OPEN", "INVESTIGATING", "ACTION_SCHEDULED", "INTERNAL_REFERRAL"]
    assert [row["external_status_code"] for row in rows] == ["reported", "accepted", "dispatched", "accepted"]
    assert [row["update_id"] for row in rows] == [f"{history}-{seq}" for seq in (1, 2, 3, 5)]
    assert rows[0]["updated_datetime"] == "2026-03-02T10:00:00+08:00"


def test_the_feed_json_mirrors_the_xml(o311, history):
    with at(T0 + timedelta(days=1)):
        rows = feed(o311)
    assert [row["status"] for row in rows] == ["OPEN", "INVESTIGATING", "ACTION_SCHEDULED", "INTERNAL_REFERRAL"]
    assert all(list(row)[:len(UPDATE_FIELDS)] == UPDATE_FIELDS for row in rows)
    assert rows[0]["media_url"] is None


def test_updated_after_reads_from_a_point_on_and_start_end_bound_it(o311, history):
    rows = feed(o311, updated_after="2026-03-02T10:30:00+08:00")
    assert [row["status"] for row in rows] == ["INVESTIGATING", "ACTION_SCHEDULED", "INTERNAL_REFERRAL"]
    assert feed(o311, updated_after="2026-03-02T03:00:00Z")[0]["status"] == "ACTION_SCHEDULED"  # exclusive
    assert feed(o311, updated_after="2026-03-02T07:00:00Z") == []
    rows = feed(o311, start_date="2026-03-02T02:30:00Z", end_date="2026-03-02T04:30:00Z")
    assert [row["status"] for row in rows] == ["INVESTIGATING", "ACTION_SCHEDULED"]
    with at(T0 + timedelta(days=91)):
        assert feed(o311) == []  # default: the last 90 days
        assert len(feed(o311, updated_after="2026-03-01T00:00:00Z")) == 4


def test_the_feed_is_paged(o311, history):
    with at(T0 + timedelta(days=1)):
        first = o311.get(url("servicerequestupdates", "json"), {"page_size": 3})
        assert [row["status"] for row in json_of(first)] == ["OPEN", "INVESTIGATING", "ACTION_SCHEDULED"]
        assert "page=2" in first["Link"]
        assert [row["status"] for row in feed(o311, page_size=3, page=2)] == ["INTERNAL_REFERRAL"]


def test_closing_statuses_keep_the_reason(o311, world, api_key):
    rejected = file_request(o311, world, api_key)
    act(rejected, "reject", world.dispatcher, reason="不属于受理范围")
    main, duplicate = file_request(o311, world, api_key), file_request(o311, world, api_key)
    act(duplicate, "merge", world.dispatcher, target=main)
    cancelled = file_request(o311, world, api_key)
    act(cancelled, "cancel", world.supervisor, reason="重复录入")
    last = {row["service_request_id"]: row for row in feed(o311)}
    assert last[rejected]["status"] == "NO_FURTHER_ACTION"
    assert last[duplicate]["status"] == "DUPLICATE" and main in last[duplicate]["description"]
    assert last[cancelled]["status"] == "CANCELLED"
    assert "不属于受理范围" not in str(feed(o311))  # staff's reasons stay internal


@pytest.mark.parametrize("params, words", [({"updated_after": "soon"}, "updated_after"), ({"page_size": "5000"},
                                                                                          "page_size")])
def test_bad_feed_parameters_are_400s(o311, world, params, words):
    assert words in errors(o311.get(url("servicerequestupdates", "xml"), params), 400)[0]


def test_the_feed_respects_the_jurisdiction(o311, history):
    with at(T0 + timedelta(days=1)):
        assert len(feed(o311, jurisdiction_id="990101001")) == 4
        assert feed(o311, jurisdiction_id="990102") == []
