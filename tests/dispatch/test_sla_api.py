"""Admin-only SLA policy API: /api/v1/sla-policies/ (list, create, read, replace, change, delete), with every bad
input answered 400 naming the field, and new clocks using what was written here at once."""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from rest_framework.test import APIClient

from dispatch.models import SlaPolicy, StageClock
from dispatch.sla import case_limit
from events.models import Category
from tests.conftest import assert_field_error, client_for, english
from tests.factories import make_user

pytestmark = pytest.mark.django_db

POLICIES = "/api/v1/sla-policies/"
SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def admin(world):
    return english(client_for(make_user("a", ("admin", None))))


def policy_body(**changes) -> dict:
    body = {"stage": "handle", "category": "E0102", "urgency": "", "level": "district", "amount": "6",
            "unit": "work_hour", "priority": 0}
    body.update(changes)
    return {key: value for key, value in body.items() if value is not ...}


def test_sla_policy_crud(world, admin):
    created = admin.post(POLICIES, policy_body(), format="json")
    assert created.status_code == 201, created.content
    policy = created.json()
    assert policy == {"id": policy["id"], "stage": "handle", "category": "E0102", "category_name": "暴露垃圾",
                      "urgency": "", "level": "district", "amount": "6.00", "unit": "work_hour", "priority": 0}
    stored = SlaPolicy.objects.get(pk=policy["id"])
    assert (stored.category.code, stored.amount, stored.level) == ("E0102", Decimal(6), "district")

    listed = admin.get(POLICIES).json()
    assert listed["count"] == 1 and listed["results"] == [policy]
    assert admin.get(f"{POLICIES}{policy['id']}/").json() == policy

    patched = admin.patch(f"{POLICIES}{policy['id']}/", {"amount": "1.5", "unit": "urgent_hour", "urgency": "urgent"},
                          format="json")
    assert patched.status_code == 200, patched.content
    assert (patched.json()["amount"], patched.json()["unit"], patched.json()["urgency"]) == (
        "1.50", "urgent_hour", "urgent")
    assert patched.json()["category"] == "E0102" and patched.json()["level"] == "district"

    replaced = admin.put(f"{POLICIES}{policy['id']}/", policy_body(category=None, stage="verify", level="",
                                                                  amount="3"), format="json")
    assert replaced.status_code == 200, replaced.content
    assert replaced.json()["category"] is None and replaced.json()["category_name"] is None
    assert (replaced.json()["stage"], replaced.json()["level"], replaced.json()["amount"]) == ("verify", "", "3.00")

    assert admin.delete(f"{POLICIES}{policy['id']}/").status_code == 204
    assert not SlaPolicy.objects.exists()
    missing = admin.get(f"{POLICIES}{policy['id']}/")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert admin.delete(f"{POLICIES}{policy['id']}/").status_code == 404
    assert admin.patch(f"{POLICIES}{policy['id']}/", {"amount": "2"}, format="json").status_code == 404


def test_sla_policy_list_filters(world, admin):
    admin.post(POLICIES, policy_body(), format="json")
    admin.post(POLICIES, policy_body(stage="dispatch", category=None, level="street", amount="1"), format="json")
    admin.post(POLICIES, policy_body(stage="dispatch", category=None, level="", urgency="urgent", amount="0.25",
                                     unit="urgent_hour"), format="json")
    assert admin.get(POLICIES).json()["count"] == 3
    assert admin.get(POLICIES + "?stage=dispatch").json()["count"] == 2
    assert admin.get(POLICIES + "?category=E0102").json()["results"][0]["stage"] == "handle"
    assert admin.get(POLICIES + "?urgency=urgent").json()["results"][0]["amount"] == "0.25"
    assert admin.get(POLICIES + "?level=street").json()["count"] == 1
    assert admin.get(POLICIES + "?stage=verify").json()["count"] == 0


def test_a_policy_written_here_is_used_by_the_next_clock_at_once(world, admin, settings):
    """No waiting for the per-process policy cache: the service makes this process (and others within
    GRIDLOOP_CONFIG_CHECK_SECONDS) read the policies again."""
    from tests.events.conftest import act, file_patrol

    settings.GRIDLOOP_CONFIG_CHECK_SECONDS = 3600
    garbage = Category.objects.get(code="E0102")
    with time_machine.travel(datetime(2026, 11, 24, 10, tzinfo=SH), tick=False):
        case = file_patrol(world, category=garbage)
        assert case_limit(case, "dispatch").source == "default"  # fills the cache
        created = admin.post(POLICIES, policy_body(stage="dispatch", category="E0102", level="", amount="1",
                                                   unit="urgent_hour"), format="json")
        assert case_limit(case, "dispatch").source == f"policy #{created.json()['id']}"
        act(case, "dispatch", world.dispatcher, department="s1-huanwei")
        act(case, "return", world.handler, reason="非本单位")
    clock = StageClock.objects.filter(case=case, stage="dispatch").order_by("-id").first()
    assert (clock.limit_amount, clock.limit_unit) == (1, "urgent_hour")
    admin.delete(f"{POLICIES}{created.json()['id']}/")
    assert case_limit(case, "dispatch").source == "default"


@pytest.mark.parametrize(("changes", "field", "words"), [
    ({"stage": "lunch"}, "stage", ("accept", "feedback")),
    ({"stage": ...}, "stage", ()),
    ({"stage": ""}, "stage", ()),
    ({"unit": "fortnight"}, "unit", ("urgent_hour", "natural_day")),
    ({"unit": ...}, "unit", ()),
    ({"amount": "0"}, "amount", ("greater than 0",)),
    ({"amount": "-2"}, "amount", ("greater than 0",)),
    ({"amount": "soon"}, "amount", ()),
    ({"amount": "1.234"}, "amount", ()),
    ({"amount": ...}, "amount", ()),
    ({"amount": "9000", "unit": "work_hour"}, "amount", ("8784",)),
    ({"amount": "400", "unit": "natural_day"}, "amount", ("366",)),
    ({"amount": "1.5", "unit": "work_day"}, "amount", ("whole",)),
    ({"urgency": "urgent", "unit": "work_hour"}, "unit", ("urgent_hour",)),
    ({"urgency": "very"}, "urgency", ("normal", "urgent")),
    ({"level": "province"}, "level", ("street", "district", "city")),
    ({"category": "X9999"}, "category", ("X9999",)),
    ({"category": 12}, "category", ()),
    ({"priority": "high"}, "priority", ()),
    ({"priority": 10 ** 12}, "priority", ()),
])
def test_sla_policy_validation_names_the_field(world, admin, changes, field, words):
    response = admin.post(POLICIES, policy_body(**changes), format="json")
    assert_field_error(response, field, *words)
    assert not SlaPolicy.objects.exists()


def test_an_inactive_category_is_refused(world, admin):
    Category.objects.filter(code="E0102").update(active=False)
    assert_field_error(admin.post(POLICIES, policy_body(), format="json"), "category", "E0102")


def test_one_policy_per_stage_category_urgency_and_level(world, admin):
    first = admin.post(POLICIES, policy_body(), format="json").json()
    duplicate = admin.post(POLICIES, policy_body(amount="9", priority=5), format="json")
    assert_field_error(duplicate, "non_field_errors", str(first["id"]))
    assert duplicate.json()["existing_policy"] == first["id"]
    # "any category" is a value of its own: two blank-category rows for the same stage/urgency/level clash too
    any_category = admin.post(POLICIES, policy_body(category=None), format="json")
    assert any_category.status_code == 201
    assert_field_error(admin.post(POLICIES, policy_body(category=None, amount="2"), format="json"),
                       "non_field_errors", str(any_category.json()["id"]))
    # another level, urgency or stage is another policy
    for changes in ({"level": "city"}, {"level": ""}, {"urgency": "normal"}, {"stage": "sign"}):
        assert admin.post(POLICIES, policy_body(**changes), format="json").status_code == 201, changes
    # an update that would make a duplicate is refused, and the row keeps its values
    other = SlaPolicy.objects.get(stage="sign")
    clash = admin.patch(f"{POLICIES}{other.pk}/", {"stage": "handle"}, format="json")
    assert_field_error(clash, "non_field_errors", str(first["id"]))
    assert SlaPolicy.objects.get(pk=other.pk).stage == "sign"
    # saving a row unchanged is not a clash with itself
    assert admin.patch(f"{POLICIES}{first['id']}/", {"amount": "7"}, format="json").status_code == 200


@pytest.mark.parametrize(("changes", "field"), [
    ({"unit": "work_hour", "urgency": "urgent"}, "unit"),  # the stored row is urgent_hour: fine alone, not with this
    ({"amount": "0.5", "unit": "work_day"}, "amount"),
    ({"amount": "0"}, "amount"),
    ({"level": "town"}, "level"),
])
def test_an_update_is_checked_as_the_whole_row(world, admin, changes, field):
    policy = admin.post(POLICIES, policy_body(unit="urgent_hour", amount="2"), format="json").json()
    assert_field_error(admin.patch(f"{POLICIES}{policy['id']}/", changes, format="json"), field)
    stored = SlaPolicy.objects.get(pk=policy["id"])
    assert (stored.unit, stored.amount, stored.urgency, stored.level) == ("urgent_hour", 2, "", "district")


def test_the_database_refuses_a_duplicate_written_behind_the_services_back(world):
    from django.db import IntegrityError, transaction

    garbage = Category.objects.get(code="E0102")
    SlaPolicy.objects.create(stage="handle", category=garbage, level="district", amount=4, unit="work_hour")
    with pytest.raises(IntegrityError), transaction.atomic():
        SlaPolicy.objects.create(stage="handle", category=garbage, level="district", amount=5, unit="work_hour")
    SlaPolicy.objects.create(stage="handle", level="district", amount=4, unit="work_hour")
    with pytest.raises(IntegrityError), transaction.atomic():
        SlaPolicy.objects.create(stage="handle", level="district", amount=5, unit="work_hour")


def test_sla_policies_are_for_admins_only(world):
    policy = SlaPolicy.objects.create(stage="handle", amount=4, unit="work_hour")
    for user in (world.dispatcher, world.supervisor, world.handler, world.city_dispatcher, world.operator):
        client = english(client_for(user))
        for method, url, body in (("get", POLICIES, None), ("post", POLICIES, policy_body()),
                                  ("get", f"{POLICIES}{policy.pk}/", None),
                                  ("patch", f"{POLICIES}{policy.pk}/", {"amount": "1"}),
                                  ("put", f"{POLICIES}{policy.pk}/", policy_body()),
                                  ("delete", f"{POLICIES}{policy.pk}/", None)):
            response = getattr(client, method)(url, body, format="json")
            assert response.status_code == 403, (user, method, url)
            assert "administrator" in response.json()["detail"]
    assert APIClient().get(POLICIES).status_code in (401, 403)
    assert list(SlaPolicy.objects.values_list("stage", "amount")) == [("handle", 4)]


def test_the_schema_lists_the_sla_policy_endpoints(tmp_path):
    import yaml
    from django.core.management import call_command

    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    paths = yaml.safe_load(out.read_text())["paths"]
    assert {"get", "post"} <= set(paths[POLICIES])
    assert {"get", "put", "patch", "delete"} <= set(paths["/api/v1/sla-policies/{id}/"])


def test_the_admin_form_makes_the_same_checks(world):
    from dispatch.admin import SlaPolicyForm

    garbage = Category.objects.get(code="E0102")
    base = {"stage": "handle", "category": garbage.pk, "urgency": "", "level": "district", "amount": "2",
            "unit": "work_day", "priority": 0}
    assert SlaPolicyForm(data=base).is_valid()
    fractional = SlaPolicyForm(data={**base, "amount": "1.5"})
    assert not fractional.is_valid() and "amount" in fractional.errors
    urgent = SlaPolicyForm(data={**base, "urgency": "urgent", "unit": "work_hour"})
    assert not urgent.is_valid() and "unit" in urgent.errors
    SlaPolicyForm(data=base).save()
    duplicate = SlaPolicyForm(data={**base, "amount": "3"})
    assert not duplicate.is_valid() and duplicate.non_field_errors()
