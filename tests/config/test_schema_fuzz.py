"""Schema truth: a bounded schemathesis run over the whole OpenAPI schema (drf-spectacular), in-process against the
WSGI app, as an administrator and as a street dispatcher, with a fixed seed — 0 server errors and 0 responses that
contradict the documented schema.

Every operation is run with generated inputs, and once more with its path parameters replaced by real ones from the
test world (a case number, a category code, …), so the detail and action endpoints answer from real rows too.
"""

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from events.models import Case
from grids.models import Role
from grids.services import api_token_issue
from tests.events.conftest import act, file_hotline, file_patrol
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=False)

MAX_EXAMPLES = 4
CHECKS = [not_a_server_error, response_schema_conformance]


def _schema():
    raw = SchemaGenerator().get_schema(request=None, public=True)
    # Authentication is the test's (a real token), not generated: drop the schemes so no case makes up its own.
    raw.get("components", {}).pop("securitySchemes", None)
    for path in raw["paths"].values():
        for operation in path.values():
            if isinstance(operation, dict):
                operation.pop("security", None)
    schema = schemathesis.openapi.from_dict(raw)
    schema.app = get_wsgi_application()
    return schema


def _real_parameters(world) -> dict:
    """Path parameters that name real rows of the world."""
    patrol = file_patrol(world)
    file_hotline(world)
    act(patrol, "dispatch", world.dispatcher, department=world.dept.code)
    case = Case.objects.get(pk=patrol.pk)
    return {"number": case.number, "code": world.category.code, "id": str(case.pk), "level": "street",
            "action": "sign", "day": case.created_at.date().isoformat()}


def _run(operation, user, real: dict, failures: list, calls: list) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def check(case):
        variants = [case]
        if case.path_parameters:
            variants.append(operation.Case(
                path_parameters={k: real.get(k, v) for k, v in case.path_parameters.items()},
                query=case.query, headers=case.headers, body=case.body, media_type=case.media_type))
        for variant in variants:
            calls.append(operation.label)
            # A fresh token each call: the run also signs out and revokes tokens (auth/logout, auth/tokens/{id}).
            _token, raw = api_token_issue(user=user, device="schemathesis")
            headers = {"Authorization": f"Token {raw}", "Accept-Language": "en"}
            try:
                variant.call_and_validate(headers=headers, checks=CHECKS)
            except (Exception, BaseExceptionGroup) as exc:  # schemathesis raises a FailureGroup; collect them all
                failures.append(f"{operation.label} {variant.path_parameters or ''}: {str(exc)[:600]}")
                return

    check()


@pytest.fixture
def _connection_kept_across_requests():
    """The WSGI app closes the database connection after each request (request_finished → close_old_connections);
    the test's transaction lives on that connection (PostgreSQL), so keep it open, as Django's test client does."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.mark.parametrize("who", ["administrator", "street dispatcher"])
def test_the_api_keeps_to_its_schema(world, who, _connection_kept_across_requests):
    user = make_user("admin", (Role.ADMIN, None)) if who == "administrator" else world.dispatcher
    real = _real_parameters(world)
    failures: list[str] = []
    calls: list[str] = []
    operations = [result.ok() for result in _schema().get_all_operations()]
    for operation in operations:
        _run(operation, user, real, failures, calls)
    assert len(set(calls)) == len(operations) > 50  # every operation was called
    assert not failures, "\n\n".join(failures)

