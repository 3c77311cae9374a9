"""The case admin's event inline speaks the reader's language: event kinds in the desk's words, states and command
levels by their labels — never the raw codes (``reported``, ``street``)."""

import re

import pytest
from django.utils import translation

from events.models import CaseEvent, CaseState, CommandLevel
from tests.events.conftest import act, file_patrol
from web.desk import event_words

pytestmark = pytest.mark.django_db


def inline_cells(html: str, name: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(rf'<td class="field-{name}">(.*?)</td>', html, re.S)]


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_case_event_inline_shows_translated_kind_state_and_level(world, admin_client, language):
    case = file_patrol(world)
    act(case, "dispatch", world.dispatcher, department=world.dept.code)
    page = admin_client.get(f"/admin/events/case/{case.pk}/change/", HTTP_ACCEPT_LANGUAGE=language)
    assert page.status_code == 200
    html = page.content.decode()
    with translation.override(language):
        events = list(CaseEvent.objects.filter(case=case).order_by("seq"))
        kinds = [event_words(e.kind) for e in events]
        states = [str(CaseState(e.to_state).label) if e.to_state else "—" for e in events]
        street = str(CommandLevel.STREET.label)
    assert "reported" in [e.kind for e in events] and "dispatch" in [e.kind for e in events]
    assert inline_cells(html, "kind_label") == kinds
    assert inline_cells(html, "to_state_label") == states
    assert set(inline_cells(html, "level_label")) == {street}
    if language == "zh-hans":
        assert "<p>reported</p>" not in html and "<p>street</p>" not in html
