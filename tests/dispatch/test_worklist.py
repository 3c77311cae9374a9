"""dispatch.worklist: a center's open cases with their running clock — the page of a bucket in time-to-breach order
with every bucket's count (one narrow query), paging, and the scope (center level and subtree, the user's area)."""
from datetime import timedelta

import pytest
from django.utils import timezone

from dispatch.models import StageClock
from dispatch.worklist import bucket_counts, worklist, worklist_page
from tests.events.conftest import act, file_hotline, file_patrol

pytestmark = pytest.mark.django_db


@pytest.fixture
def cases(world):
    made = [file_hotline(world) for _ in range(3)] + [file_patrol(world) for _ in range(2)]
    now = timezone.now()
    for minutes, case in zip((50, -30, 10, 20, 40), made, strict=True):
        StageClock.objects.filter(case=case, finished_at=None).update(
            deadline=now + timedelta(minutes=minutes), light="red" if minutes < 0 else "green")
    return made


def test_page_counts_and_order(world, cases):
    street = world.regions["990101001"]
    page = worklist_page(user=world.dispatcher, center=street)
    assert [c.number for c in page.cases] == [cases[i].number for i in (1, 2, 3, 4, 0)]
    assert page.counts == bucket_counts(user=world.dispatcher, center=street)
    assert page.counts["all"] == 5 and page.counts["new"] == 3 and page.counts["overdue"] == 1
    assert page.counts["escalated_to_us"] is None and not page.has_next


def test_a_bucket_pages_and_ends(world, cases):
    street = world.regions["990101001"]
    first = worklist_page(user=world.dispatcher, center=street, bucket="new", limit=2)
    assert [c.number for c in first.cases] == [cases[1].number, cases[2].number] and first.has_next
    second = worklist_page(user=world.dispatcher, center=street, bucket="new", limit=2, offset=2)
    assert [c.number for c in second.cases] == [cases[0].number] and not second.has_next
    assert second.counts["new"] == 3
    assert worklist_page(user=world.dispatcher, center=street, bucket="returned").cases == []
    sort = [c.number for c in worklist_page(user=world.dispatcher, center=street, sort="-number").cases]
    assert sort == sorted(sort, reverse=True)


def test_scope_level_and_area(world, cases):
    act(cases[0], "reject", world.dispatcher, reason="重复")
    street = world.regions["990101001"]
    assert cases[0].number not in [c.number for c in worklist(user=world.dispatcher, center=street)]
    assert worklist_page(user=world.dispatcher, center=world.regions["990101"]).cases == []
    assert worklist_page(user=world.dispatcher_b, center=street).cases == []  # not in their area
