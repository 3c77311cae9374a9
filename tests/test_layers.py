"""Imports flow one way: config ← grids ← events ← dispatch (← web) (DESIGN.md). ``events`` holds the case, its state
machine and its log and imports without ``dispatch``; dispatch's part of a case change (clocks, notices, routing,
supervision) reaches events only through the steps dispatch registers (``events.hooks``)."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

ROOT = Path(__file__).resolve().parents[1]

# events' own modules: the case, its workflow, its log, intake and transitions, reads, API. (The channel packages
# events/sensors, events/wechat and events/open311 still call dispatch's outbox and adapters: not covered yet.)
EVENTS_CORE = ("events.models", "events.workflow", "events.chain", "events.log", "events.actors", "events.access",
               "events.hooks", "events.services", "events.selectors", "events.duplicates", "events.photos",
               "events.integrity", "events.anchors", "events.serializers")

# Django set up from the project's settings without the apps above events (dispatch, and web, which imports it) and
# without the admin (its autodiscovery loads events.admin, which reaches the channel packages), then events' modules
# imported: no module of dispatch may have been loaded on the way.
WITHOUT_DISPATCH = """
import importlib, json, sys

import django
from django.conf import settings

import config.settings as base

values = {name: getattr(base, name) for name in dir(base) if name.isupper()}
values["INSTALLED_APPS"] = [app for app in base.INSTALLED_APPS
                            if app not in ("dispatch", "web", "django.contrib.admin")]
settings.configure(**values)
django.setup()
for name in sys.argv[1:]:
    importlib.import_module(name)
from events import hooks

try:
    hooks.dispatch_steps()
    missing = "registered"
except Exception as exc:
    missing = type(exc).__name__
print(json.dumps({"dispatch": sorted(m for m in sys.modules if m == "dispatch" or m.startswith("dispatch.")),
                  "without_steps": missing}))
"""


def test_events_imports_without_dispatch():
    done = subprocess.run([sys.executable, "-c", WITHOUT_DISPATCH, *EVENTS_CORE], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["dispatch"] == [], f"importing events loaded dispatch modules: {found['dispatch']}"
    # ... and a case change there fails loudly instead of skipping its clocks and notices
    assert found["without_steps"] == "ImproperlyConfigured"


def _imported_names(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("module", EVENTS_CORE)
def test_events_modules_do_not_import_dispatch_even_inside_functions(module):
    names = _imported_names(ROOT / (module.replace(".", "/") + ".py"))
    assert not {name for name in names if name == "dispatch" or name.startswith("dispatch.")}


def test_dispatch_registered_its_steps_once_at_start_up():
    from dispatch.steps import STEPS
    from events import hooks

    assert hooks.dispatch_steps() is STEPS
    hooks.dispatch_steps_register(STEPS)  # the same again: nothing changes
    with pytest.raises(ImproperlyConfigured):
        hooks.dispatch_steps_register(object())  # type: ignore[arg-type]  # never replaced by another
    assert hooks.dispatch_steps() is STEPS


def test_dispatch_imports_events_at_module_level_only():
    """The function-level ``from events…`` imports that worked round the cycle are gone."""
    inside = []
    for path in sorted((ROOT / "dispatch").rglob("*.py")):
        if "migrations" in path.parts or path.name == "apps.py":  # (AppConfig.ready() imports when the apps are ready)
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.ImportFrom) and (inner.module or "").split(".")[0] == "events":
                        inside.append(f"{path.relative_to(ROOT)}:{inner.lineno}")
    assert inside == []
