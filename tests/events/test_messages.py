"""The refusals of events.services speak the caller's language: Chinese by default, English on request."""

import pytest
from django.utils import translation

from config.errors import Conflict, InvalidInput
from tests.events.conftest import act, file_patrol

pytestmark = pytest.mark.django_db


def test_a_refused_transition_is_explained_in_the_callers_language(world):
    case = file_patrol(world)
    with translation.override("zh-hans"), pytest.raises(Conflict) as refused:
        act(case, "close", world.dispatcher)
    assert refused.value.message.startswith("无法对状态为“已立案，待派遣”的案卷执行 close。当前可执行：")
    with translation.override("en"), pytest.raises(Conflict) as refused:
        act(case, "close", world.dispatcher)
    assert refused.value.message.startswith("cannot close a case that is accepted, awaiting dispatch. Allowed now: ")


def test_a_missing_input_names_the_field_in_either_language(world):
    case = file_patrol(world)
    for language, text in (("zh-hans", "dispatch 需要 department"), ("en", "dispatch needs department")):
        with translation.override(language), pytest.raises(InvalidInput) as refused:
            act(case, "dispatch", world.dispatcher)
        assert (refused.value.message, refused.value.field) == (text, "department")
