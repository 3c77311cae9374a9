"""Region code rules (REFERENCE.md §1): city ``XXYY00``; district ``XXYYZZ`` under it; street, community and unit
grid each add three digits to the parent's code (9, 12 and 15 digits)."""

from .models import LEVEL_ORDER, Level

CODE_LENGTH = {Level.CITY: 6, Level.DISTRICT: 6, Level.STREET: 9, Level.COMMUNITY: 12, Level.GRID: 15}


def parent_level(level: str) -> str | None:
    index = LEVEL_ORDER.index(level)
    return LEVEL_ORDER[index - 1] if index else None


def code_problem(level: str, code: str, parent_level_: str | None, parent_code: str | None) -> str | None:
    """Why ``code`` is not a valid code for a region of ``level`` under the given parent, or None if it is."""
    if level not in CODE_LENGTH:
        return f"unknown level {level!r}; expected one of {', '.join(LEVEL_ORDER)}"
    if not isinstance(code, str) or not (code.isascii() and code.isdigit()) or len(code) != CODE_LENGTH[level]:
        return f"a {level} code must be {CODE_LENGTH[level]} digits, got {code!r}"
    expected_parent = parent_level(level)
    if expected_parent is None:
        if parent_code:
            return "a city has no parent"
        if not code.endswith("00"):
            return f"a city code ends in '00' (GB/T 2260), got {code!r}"
        return None
    if not parent_code:
        return f"a {level} needs a parent {expected_parent}"
    if parent_level_ != expected_parent:
        return f"a {level} must sit directly under a {expected_parent}, not under a {parent_level_}"
    if level == Level.DISTRICT:
        if code[:4] != parent_code[:4] or code.endswith("00"):
            return f"a district code must start with its city's {parent_code[:4]!r} and not end in '00', got {code!r}"
        return None
    if not code.startswith(parent_code) or code[len(parent_code):] == "000":
        return f"a {level} code must be its parent's code {parent_code} followed by 001–999, got {code!r}"
    return None
