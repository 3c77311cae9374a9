"""The fence around the performance layer: ``config/compiled.py`` (queries compiled once) and ``config/rows.py``
(row writes from SQL kept per model, bulk rows from typed arrays).

Both reach past Django's public API — the compiler's ``klass_info`` and ``get_related_populators``, the model's
``_prepare_related_fields_for_save``, a psycopg 3 cursor under Django's — so each is a *hook* that checks, once per
process at start-up (``GridsConfig.ready``, or on its first use if that comes first), that the internals it uses are
there with the signatures it was written against. A hook whose check fails stays off in that process (logged once as
a warning, and reported by ``manage.py check``), and its callers take the plain ORM path — the same rows, the same
instances, only slower. ``GRIDLOOP_COMPILED_QUERIES=0`` (a setting, from the environment; default on) switches every
hook off. ``tests/config/test_fastpath.py`` runs the case and sensor tests with the switch off and compares.
"""

import inspect
import logging
from collections.abc import Callable

from django.conf import settings
from django.core import checks

log = logging.getLogger(__name__)

_checks: dict[str, Callable[[], str]] = {}  # hook → its check: "" when the internals are as expected, else why not
_problems: dict[str, str] = {}  # hook → the result of its check in this process


def hook(name: str, check: Callable[[], str]) -> None:
    """Declare a hook of the performance layer and how to check the internals it uses."""
    _checks[name] = check


def internals_problem(name: str) -> str:
    """Why the hook ``name`` cannot run in this process ("" when it can); checked once."""
    problem = _problems.get(name)
    if problem is None:
        try:
            problem = _checks[name]()
        except Exception as exc:  # noqa: BLE001 — whatever the check trips on means: not as expected
            problem = f"{type(exc).__name__}: {exc}"
        _problems[name] = problem
        if problem:
            log.warning("performance hook %s is off (plain ORM path): %s", name, problem)
    return problem


def give_up(name: str, problem: str) -> None:
    """Turn the hook ``name`` off for the rest of the process: it met internals other than it expects."""
    _problems[name] = problem
    log.warning("performance hook %s is off (plain ORM path): %s", name, problem)


def active(name: str) -> bool:
    """Whether the hook ``name`` runs now: its internals are as expected and GRIDLOOP_COMPILED_QUERIES is on."""
    return settings.GRIDLOOP_COMPILED_QUERIES and not internals_problem(name)


def check_all() -> dict[str, str]:
    """Run every hook's check (at start-up); returns the problems found, by hook."""
    return {name: problem for name in _checks if (problem := internals_problem(name))}


def fastpath_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """``manage.py check``: a warning per hook that is off because Django or psycopg changed under it."""
    return [checks.Warning(f"performance hook {name} is off: {problem}",
                           hint="the plain ORM path runs (slower, same results); adapt config/" + name.split(".")[0]
                           + ".py to this Django version", id="gridloop.W010")
            for name, problem in check_all().items()]


def has_parameters(function, *names: str) -> str:
    """"" if ``function`` takes (at least) these named parameters, else why not (for a hook's check)."""
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError) as exc:
        return f"{function!r}: no signature ({exc})"
    missing = [name for name in names if name not in parameters]
    return f"{getattr(function, '__qualname__', function)} has no parameter {', '.join(missing)}" if missing else ""


def has_attributes(owner, *names: str) -> str:
    """"" if ``owner`` has these attributes, else which it lacks."""
    missing = [name for name in names if not hasattr(owner, name)]
    return f"{getattr(owner, '__qualname__', owner)} has no {', '.join(missing)}" if missing else ""


def first_problem(*problems: str) -> str:
    return next((problem for problem in problems if problem), "")
