"""PostgreSQL: a client's retry racing its first attempt (same Idempotency-Key) still files exactly one case."""

import threading

import pytest
from django.db import connection
from django.test import Client

from events.models import Case, InboundReport
from tests.events.open311.conftest import json_of, post_request, report_fields

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_simultaneous_posts_with_one_idempotency_key_file_one_case(world, api_key):
    barrier = threading.Barrier(4)
    answers = [None] * 4

    def post(index):
        try:
            barrier.wait(timeout=10)
            response = post_request(Client(), api_key=api_key, headers={"Idempotency-Key": "race-1"},
                                    **report_fields(world))
            answers[index] = (response.status_code, json_of(response, response.status_code))
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    statuses = sorted(status for status, _body in answers)
    assert statuses == [200, 200, 200, 201], answers
    assert len({body[0]["service_request_id"] for _status, body in answers}) == 1
    assert Case.objects.count() == 1 and InboundReport.objects.count() == 1
