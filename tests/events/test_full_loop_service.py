"""The closed loop through the services, end to end, with the event log and its hash chain."""

import pytest

from events.integrity import chain_verify
from events.models import CaseState, CloseReason
from tests.events.conftest import act, file_hotline, file_patrol, photo

pytestmark = pytest.mark.django_db


def test_patrol_report_is_accepted_on_filing_and_runs_the_whole_loop(world):
    case = file_patrol(world)
    assert case.state == CaseState.ACCEPTED
    assert case.number.endswith("00001") and len(case.number) == 13
    case = act(case, "dispatch", world.dispatcher, department="s1-huanwei")
    case = act(case, "sign", world.handler)
    case = act(case, "complete", world.handler, note="已清理", photos=[photo()])
    case = act(case, "verify", world.worker, photos=[photo()])
    case = act(case, "close", world.dispatcher)
    assert case.state == CaseState.CLOSED and case.close_reason == CloseReason.RESOLVED
    kinds = list(case.events.order_by("seq").values_list("kind", flat=True))
    assert kinds == ["reported", "accept", "dispatch", "sign", "complete", "verify", "close"]
    assert chain_verify(case) is None


def test_hotline_case_closes_with_the_callers_feedback(world):
    case = file_hotline(world)
    assert case.state == CaseState.REPORTED
    case = act(case, "accept", world.dispatcher, category=world.category)
    case = act(case, "dispatch", world.dispatcher, department="s1-huanwei")
    case = act(case, "sign", world.handler)
    case = act(case, "complete", world.handler, note="修好了", photos=[photo()])
    case = act(case, "verify", world.worker, photos=[photo()])
    case = act(case, "feedback", world.operator, rating=5, comment="满意")
    assert case.state == CaseState.CLOSED and case.rating == 5
    assert chain_verify(case) is None
