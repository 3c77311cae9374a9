"""SLA policy matching: the most specific SlaPolicy row, else the built-in defaults of dispatch.sla."""

from decimal import Decimal

import pytest

from dispatch.models import SlaPolicy
from dispatch.sla import case_limit, default_limit, limit_for, policy_match
from events.models import Category

pytestmark = pytest.mark.django_db


def cat(code):
    return Category.objects.get(code=code)


def test_defaults_per_stage_and_urgency(world):
    assert limit_for(stage="accept", urgency="normal") == default_limit(stage="accept", urgency="normal")
    assert (limit_for(stage="accept", urgency="normal").amount, limit_for(stage="accept").unit) == (2, "work_hour")
    assert (limit_for(stage="accept", urgency="urgent").amount,
            limit_for(stage="accept", urgency="urgent").unit) == (Decimal("0.5"), "urgent_hour")
    assert (limit_for(stage="dispatch").amount, limit_for(stage="dispatch").unit) == (2, "work_hour")
    assert (limit_for(stage="sign", urgency="urgent").unit) == "urgent_hour"
    assert (limit_for(stage="verify", urgency="urgent").amount, limit_for(stage="verify").amount) == (1, 2)
    assert (limit_for(stage="feedback").amount, limit_for(stage="feedback").unit) == (3, "natural_day")
    assert limit_for(stage="feedback", urgency="urgent").unit == "urgent_hour"
    assert limit_for(stage="accept").source == "default"


def test_handle_default_is_the_categorys_limit(world):
    garbage = cat("E0102")  # 暴露垃圾 4 work_hour
    limit = limit_for(stage="handle", category=garbage, urgency="normal")
    assert (limit.amount, limit.unit, limit.source) == (4, "work_hour", "category E0102")
    # urgent: working hours count on the wall clock (紧急工作时); day units stay
    assert limit_for(stage="handle", category=garbage, urgency="urgent").unit == "urgent_hour"
    assert limit_for(stage="handle", category=world.category, urgency="urgent").unit == "work_day"
    assert (limit_for(stage="handle").amount, limit_for(stage="handle").unit) == (1, "work_day")


def test_the_most_specific_policy_wins(world):
    garbage = cat("E0102")
    any_row = SlaPolicy.objects.create(stage="handle", amount=10, unit="work_hour")
    level_row = SlaPolicy.objects.create(stage="handle", level="district", amount=9, unit="work_hour")
    urgency_row = SlaPolicy.objects.create(stage="handle", urgency="urgent", amount=8, unit="urgent_hour")
    category_row = SlaPolicy.objects.create(stage="handle", category=garbage, amount=7, unit="work_hour")
    SlaPolicy.objects.create(stage="verify", category=garbage, urgency="urgent", level="district", amount=1,
                             unit="urgent_hour")  # another stage: never matches handle
    assert policy_match(stage="handle", category=world.category, urgency="normal", level="street") == any_row
    assert policy_match(stage="handle", category=world.category, urgency="normal", level="district") == level_row
    assert policy_match(stage="handle", category=world.category, urgency="urgent", level="district") == urgency_row
    assert policy_match(stage="handle", category=garbage, urgency="urgent", level="district") == category_row
    limit = limit_for(stage="handle", category=garbage, urgency="urgent", level="district")
    assert (limit.amount, limit.unit, limit.source) == (7, "work_hour", f"policy #{category_row.pk}")


def test_one_row_per_combination_and_specificity_beats_priority(world):
    """Two rows for the same stage, category, urgency and level are refused (so matching rows never tie), and a
    more specific row wins over a wider one whatever their priorities."""
    from django.db import IntegrityError, transaction

    specific = SlaPolicy.objects.create(stage="accept", urgency="normal", amount=1, unit="work_hour")
    with pytest.raises(IntegrityError), transaction.atomic():
        SlaPolicy.objects.create(stage="accept", urgency="normal", amount=3, unit="work_hour", priority=5)
    SlaPolicy.objects.create(stage="accept", amount=5, unit="work_hour", priority=99)
    assert policy_match(stage="accept", urgency="normal") == specific
    assert policy_match(stage="accept", urgency="urgent").amount == 5  # only the wider row matches


def test_an_unknown_stage_is_refused(world):
    with pytest.raises(ValueError, match="unknown stage"):
        policy_match(stage="lunch")
    with pytest.raises(ValueError, match="unknown stage"):
        default_limit(stage="lunch")


def test_case_limit_uses_the_cases_category_urgency_and_level(world):
    from tests.events.conftest import file_patrol

    case = file_patrol(world, category=cat("E0102"))
    assert (case_limit(case, "handle").amount, case_limit(case, "handle").unit) == (4, "work_hour")
    row = SlaPolicy.objects.create(stage="handle", level="district", amount=2, unit="work_hour")
    assert case_limit(case, "handle").source == "default" or case_limit(case, "handle").source.startswith("category")
    case.level = "district"
    assert case_limit(case, "handle").source == f"policy #{row.pk}"


def test_the_admin_edits_policies_and_shows_clocks_read_only(world, admin_client):
    from dispatch.models import StageClock
    from tests.events.conftest import file_patrol

    case = file_patrol(world)
    assert admin_client.get("/admin/dispatch/slapolicy/add/").status_code == 200
    response = admin_client.post("/admin/dispatch/slapolicy/add/", {
        "stage": "verify", "category": "", "urgency": "", "level": "", "amount": "1.5", "unit": "work_hour",
        "priority": "0"})
    assert response.status_code == 302 and SlaPolicy.objects.get().amount == Decimal("1.5")
    assert admin_client.get("/admin/dispatch/stageclock/").status_code == 200
    clock = StageClock.objects.filter(case=case).first()
    page = admin_client.get(f"/admin/dispatch/stageclock/{clock.pk}/change/")
    assert page.status_code == 200 and b'name="deadline"' not in page.content  # nothing to edit
    assert admin_client.get("/admin/dispatch/stageclock/add/").status_code == 403
