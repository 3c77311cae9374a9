"""The zh-hans catalogue: extract the msgids, merge the pending fragments, compile, list what is left untranslated.

``locale/zh_Hans/LC_MESSAGES/django.po`` is the single source of every translation (any PO editor works on it); the
compiled ``django.mo`` next to it is committed. Helpers working in parallel put their new translations in
``locale/pending/<name>.po`` fragments instead of editing the catalogue; ``bin/merge-translations`` (this module's
``main``) folds them in. ``tests/test_i18n.py`` runs the same extraction on a copy of the tree, so a msgid added to
the code without its translation fails the suite. Development tooling: it needs GNU gettext and polib (a dev
dependency), and nothing at run time imports it.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

LOCALE = "zh_Hans"
BASE_DIR = Path(__file__).resolve().parent.parent
# makemessages' options, shared by bin/merge-translations and the test: file names without line numbers (a line moved
# elsewhere does not touch the catalogue, so parallel branches rarely conflict in it), no obsolete entries.
MAKEMESSAGES = {"locale": [LOCALE], "add_location": "file", "no_obsolete": True,
                "ignore_patterns": ["bench", "tests", "var", "docs"]}
COMPILEMESSAGES = {"locale": [LOCALE], "ignore_patterns": [".venv", "bench", "tests", "var"]}
PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")


def catalogue_path(locale_dir: Path) -> Path:
    return locale_dir / LOCALE / "LC_MESSAGES" / "django.po"


def extract(verbosity: int = 0) -> None:
    """Run makemessages from the current directory into ``settings.LOCALE_PATHS[0]`` (msgmerge keeps the msgstrs)."""
    from django.core.management import call_command

    call_command("makemessages", verbosity=verbosity, **MAKEMESSAGES)


def compile_catalogue(verbosity: int = 0) -> None:
    from django.core.management import call_command

    call_command("compilemessages", verbosity=verbosity, **COMPILEMESSAGES)


def problems(po) -> list[str]:
    """Every entry a zh-hans reader would see in English or wrong: untranslated, fuzzy, placeholders not matching."""
    found = []
    for entry in po:
        if entry.obsolete:
            continue
        where = f"{entry.msgid!r} ({', '.join(sorted({path for path, _ in entry.occurrences}))})"
        if entry.fuzzy:
            found.append(f"fuzzy: {where}")
        elif not entry.translated():
            found.append(f"untranslated: {where}")
        elif "python-format" in entry.flags:
            wanted = set(PLACEHOLDER.findall(entry.msgid)) | set(PLACEHOLDER.findall(entry.msgid_plural or ""))
            for text in [entry.msgstr] if not entry.msgid_plural else entry.msgstr_plural.values():
                if set(PLACEHOLDER.findall(text)) != wanted:
                    found.append(f"placeholders differ from the msgid's {sorted(wanted)}: {where}")
                    break
    return found


@dataclass
class MergeReport:
    filled: int = 0
    merged_fragments: list[Path] = field(default_factory=list)
    # msgid -> fragment: a translation for a msgid the code does not have (yet): it stays in its fragment
    unused: dict[str, Path] = field(default_factory=dict)
    # msgid -> (catalogue's msgstr, fragment's msgstr): the catalogue's is kept, edit django.po to change it
    differing: dict[str, tuple[str, str]] = field(default_factory=dict)


def merge_fragments(po, pending_dir: Path) -> MergeReport:
    """Fill ``po``'s untranslated and fuzzy entries from every ``pending_dir/*.po``; a fragment all of whose entries
    landed is deleted, the others keep only their entries for msgids the code does not have yet."""
    import polib

    report = MergeReport()
    entries = {(entry.msgctxt, entry.msgid): entry for entry in po if not entry.obsolete}
    for path in sorted(pending_dir.glob("*.po")):
        fragment = polib.pofile(str(path))
        left = []
        for item in fragment:
            if item.obsolete or item.fuzzy or not item.translated():
                continue
            entry = entries.get((item.msgctxt, item.msgid))
            if entry is None:
                report.unused[item.msgid] = path
                left.append(item)
            elif entry.fuzzy or not entry.translated():
                entry.msgstr, entry.msgstr_plural = item.msgstr, dict(item.msgstr_plural)
                if "fuzzy" in entry.flags:
                    entry.flags.remove("fuzzy")
                entry.previous_msgid = entry.previous_msgid_plural = entry.previous_msgctxt = None
                report.filled += 1
            elif (entry.msgstr, entry.msgstr_plural) != (item.msgstr, dict(item.msgstr_plural)):
                report.differing[item.msgid] = (entry.msgstr or str(entry.msgstr_plural),
                                                item.msgstr or str(item.msgstr_plural))
        if left:
            rest = polib.POFile(wrapwidth=120)
            rest.metadata = fragment.metadata
            rest.extend(left)
            rest.save(str(path))
        else:
            path.unlink()
            report.merged_fragments.append(path)
    return report


def main() -> int:
    """bin/merge-translations: makemessages, fill from locale/pending/*.po, makemessages again (gettext's own
    formatting), compilemessages; exit status 1 naming every msgid still untranslated, fuzzy or mis-formatted."""
    import os

    import django
    import polib

    os.chdir(BASE_DIR)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    locale_dir = BASE_DIR / "locale"
    extract()
    po = polib.pofile(str(catalogue_path(locale_dir)), wrapwidth=79)
    report = merge_fragments(po, locale_dir / "pending")
    po.save()
    extract()
    compile_catalogue()
    print(f"filled {report.filled} entries; merged and deleted {len(report.merged_fragments)} fragment(s)"
          + "".join(f"\n  {path.relative_to(BASE_DIR)}" for path in report.merged_fragments))
    for msgid, path in report.unused.items():
        print(f"kept in {path.relative_to(BASE_DIR)} (no such msgid in the code yet): {msgid!r}")
    for msgid, (kept, offered) in report.differing.items():
        print(f"already translated, kept {kept!r} (fragment had {offered!r}; edit django.po to change): {msgid!r}")
    left = problems(polib.pofile(str(catalogue_path(locale_dir))))
    for line in left:
        print(line, file=sys.stderr)
    if left:
        print(f"{len(left)} entries need a translation in {catalogue_path(locale_dir).relative_to(BASE_DIR)} "
              "(or a locale/pending/*.po fragment); then run bin/merge-translations again.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
