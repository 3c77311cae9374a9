"""Chinese first (zh-hans), English available; times stored in UTC, shown in Asia/Shanghai."""

import shutil

import polib
import pytest
from django.conf import settings
from django.utils import timezone, translation

from config.translations import BASE_DIR, catalogue_path, extract, merge_fragments, problems
from events.models import CaseState
from grids.models import Role
from tests.conftest import client_for
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_api_messages_are_chinese_by_default_and_english_on_request(city):
    client = client_for(make_user("d", (Role.DISPATCHER, city["990101001"])))
    zh = client.get("/api/v1/grids/locate/", {"lat": 10, "lng": 10})
    assert zh.status_code == 404 and "不在服务区域内" in zh.json()["detail"]
    en = client.get("/api/v1/grids/locate/", {"lat": 10, "lng": 10}, HTTP_ACCEPT_LANGUAGE="en")
    assert "outside the service area" in en.json()["detail"]


def test_state_labels_are_translated():
    with translation.override("zh-hans"):
        assert str(CaseState.HANDLED.label) == "处置完成，待核查"
    with translation.override("en"):
        assert str(CaseState.HANDLED.label) == "handled, awaiting check"


def test_admin_is_in_chinese(admin_client):
    page = admin_client.get("/admin/events/case/")
    assert page.status_code == 200
    assert "案卷" in page.content.decode()


def test_storage_is_utc_and_display_is_shanghai():
    assert settings.USE_TZ and settings.TIME_ZONE == "Asia/Shanghai"
    assert timezone.now().utcoffset().total_seconds() == 0
    assert timezone.localtime(timezone.now()).utcoffset().total_seconds() == 8 * 3600


def test_the_sign_in_page_is_chinese_first_with_links(client):
    assert client.get("/")["Location"] == "/login/"
    body = client.get("/login/").content.decode()
    assert "用户名" in body and "/api/docs/" in body and "/healthz/" in body
    assert "Username" in client.get("/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()


# --- The catalogue ---------------------------------------------------------------------------------------------------
CATALOGUE = catalogue_path(BASE_DIR / "locale")


def _entries(catalogue) -> dict:
    """(msgctxt, msgid) -> msgstr (or the plural forms) of every entry a .mo has, or a .po's msgfmt would compile."""
    return {(e.msgctxt, e.msgid): e.msgstr or tuple(sorted(e.msgstr_plural.items())) for e in catalogue
            if e.msgid and (isinstance(e, polib.MOEntry) or (e.translated() and not e.obsolete))}


@pytest.mark.django_db(False)
def test_catalogue_has_every_msgid_of_the_code_translated(tmp_path, monkeypatch, settings):
    # makemessages on a copy of the tree (the real catalogue is not touched): a msgid added to the code without its
    # translation, or a translation left fuzzy, fails here with the msgid and its file.
    if shutil.which("xgettext") is None:
        pytest.fail("GNU gettext is needed to extract the msgids (apt-get install gettext)")
    skip = shutil.ignore_patterns(".*", "__pycache__", "var", "bench", "tests", "docs", "*.mo")
    for top in BASE_DIR.iterdir():
        if top.is_dir() and not skip(str(BASE_DIR), [top.name]):
            shutil.copytree(top, tmp_path / top.name, ignore=skip)
    monkeypatch.chdir(tmp_path)
    settings.LOCALE_PATHS = [tmp_path / "locale"]
    extract()
    fresh = polib.pofile(str(catalogue_path(tmp_path / "locale")))
    assert problems(fresh) == []
    committed = polib.pofile(str(CATALOGUE))
    assert {(e.msgctxt, e.msgid) for e in committed} == {(e.msgctxt, e.msgid) for e in fresh}, (
        "django.po is not up to date with the code: run bin/merge-translations")


@pytest.mark.django_db(False)
def test_committed_mo_is_compiled_from_the_po():
    po = polib.pofile(str(CATALOGUE))
    assert problems(po) == []
    assert _entries(polib.mofile(str(CATALOGUE.with_suffix(".mo")))) == _entries(po), (
        "django.mo is older than django.po: run bin/merge-translations")


def test_problems_names_untranslated_fuzzy_and_lost_placeholders():
    po = polib.pofile(
        'msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        '#: a.py\nmsgid "plain"\nmsgstr ""\n\n'
        '#: b.py\n#, fuzzy\nmsgid "guessed"\nmsgstr "猜的"\n\n'
        '#: c.py\n#, python-format\nmsgid "case %(number)s"\nmsgstr "案卷"\n\n'
        '#: d.py\n#, python-format\nmsgctxt "ok"\nmsgid "case %(number)s"\nmsgstr "案卷 %(number)s"\n')
    assert problems(po) == ["untranslated: 'plain' (a.py)", "fuzzy: 'guessed' (b.py)",
                            "placeholders differ from the msgid's ['number']: 'case %(number)s' (c.py)"]


@pytest.mark.django_db(False)
def test_merge_fills_from_fragments_and_keeps_what_the_code_lacks(tmp_path):
    po = polib.pofile('msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\n'
                      'msgid "new"\nmsgstr ""\n\n#, fuzzy\nmsgid "guess"\nmsgstr "错"\n\n'
                      'msgid "done"\nmsgstr "已有"\n')
    header = 'msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\n'
    (tmp_path / "a.po").write_text(header + 'msgid "new"\nmsgstr "新"\n\nmsgid "guess"\nmsgstr "猜"\n', "utf-8")
    (tmp_path / "b.po").write_text(header + 'msgid "done"\nmsgstr "别的"\n\nmsgid "later"\nmsgstr "以后"\n', "utf-8")
    report = merge_fragments(po, tmp_path)
    assert {e.msgid: (e.msgstr, e.fuzzy) for e in po} == {"new": ("新", False), "guess": ("猜", False),
                                                          "done": ("已有", False)}
    assert report.filled == 2 and report.differing == {"done": ("已有", "别的")}
    assert report.merged_fragments == [tmp_path / "a.po"] and not (tmp_path / "a.po").exists()
    assert [e.msgid for e in polib.pofile(str(tmp_path / "b.po"))] == ["later"]
