"""The per-thread input serializers (events.serializers.validated_input): one request's data, errors or fields never
reach the next one on the same thread."""

import threading

import pytest
from rest_framework.exceptions import ValidationError

from events.serializers import CaseActionSerializer, CaseReportSerializer, validated_input

pytestmark = pytest.mark.django_db


def test_an_error_is_not_carried_into_the_next_valid_input():
    with pytest.raises(ValidationError) as refused:
        validated_input(CaseReportSerializer, {"channel": "hotline"})
    assert set(refused.value.detail) == {"description"}
    data = validated_input(CaseReportSerializer, {"channel": "hotline", "description": "井盖缺失", "lat": 30.1})
    assert data["description"] == "井盖缺失" and data["lat"] == 30.1


def test_fields_sent_once_are_not_carried_into_the_next_input():
    first = validated_input(CaseActionSerializer, {"note": "先看一下", "rating": 4})
    second = validated_input(CaseActionSerializer, {"reason": "非本单位"})
    assert first == {"note": "先看一下", "rating": 4}
    assert second == {"reason": "非本单位"}
    with pytest.raises(ValidationError) as refused:
        validated_input(CaseActionSerializer, {"rating": 9})
    assert set(refused.value.detail) == {"rating"}
    assert validated_input(CaseActionSerializer, {}) == {}


def test_each_thread_validates_with_its_own_instance():
    results, errors = {}, []

    def validate(index):
        try:
            for _ in range(200):
                data = validated_input(CaseActionSerializer, {"note": f"thread {index}"})
                assert data == {"note": f"thread {index}"}
            results[index] = True
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=validate, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(results) == 4
