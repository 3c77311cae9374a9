"""Region code rules (REFERENCE.md §1) as checked by grids.codes.code_problem."""

import pytest

from grids.codes import CODE_LENGTH, code_problem, parent_level

pytestmark = pytest.mark.django_db

CITY, DISTRICT, STREET, COMMUNITY, GRID = "990100", "990101", "990101001", "990101001001", "990101001001001"


@pytest.mark.parametrize(
    ("level", "code", "parent_lvl", "parent_code"),
    [
        ("city", CITY, None, None),
        ("city", "110000", None, None),
        ("district", DISTRICT, "city", CITY),
        ("district", "990199", "city", CITY),
        ("street", STREET, "district", DISTRICT),
        ("street", "990101999", "district", DISTRICT),
        ("community", COMMUNITY, "street", STREET),
        ("community", "990101001999", "street", STREET),
        ("grid", GRID, "community", COMMUNITY),
        ("grid", "990101001001999", "community", COMMUNITY),
    ],
)
def test_good_codes_have_no_problem(level, code, parent_lvl, parent_code):
    assert code_problem(level, code, parent_lvl, parent_code) is None


def test_code_lengths_follow_db11_t_2157():
    assert [CODE_LENGTH[level] for level in ("city", "district", "street", "community", "grid")] == [6, 6, 9, 12, 15]
    assert parent_level("city") is None
    assert parent_level("grid") == "community"


@pytest.mark.parametrize(
    ("level", "code", "parent_lvl", "parent_code"),
    [
        ("city", "99010", None, None),
        ("city", "9901000", None, None),
        ("district", "99010", "city", CITY),
        ("street", "99010100", "district", DISTRICT),
        ("street", "9901010011", "district", DISTRICT),
        ("community", "99010100101", "street", STREET),
        ("grid", "9901010010010011", "community", COMMUNITY),
        ("grid", "99010100100100", "community", COMMUNITY),  # the 14-digit variant of some cities is not accepted
        ("grid", "", "community", COMMUNITY),
    ],
)
def test_a_code_of_the_wrong_length_is_refused(level, code, parent_lvl, parent_code):
    problem = code_problem(level, code, parent_lvl, parent_code)
    assert problem == f"a {level} code must be {CODE_LENGTH[level]} digits, got {code!r}"


@pytest.mark.parametrize(
    ("level", "code", "parent_lvl", "parent_code"),
    [
        ("city", "99O100", None, None),
        ("district", "9901a1", "city", CITY),
        ("street", "990101 01", "district", DISTRICT),
        ("community", "990101001-01", "street", STREET),
        ("grid", "990101001001+01", "community", COMMUNITY),
        ("grid", 990101001001001, "community", COMMUNITY),
        ("city", None, None, None),
    ],
)
def test_a_code_with_non_digits_is_refused(level, code, parent_lvl, parent_code):
    assert "digits" in code_problem(level, code, parent_lvl, parent_code)


@pytest.mark.parametrize("code", ["９９0100", "²²0100"])
def test_a_code_with_non_ascii_digits_is_refused(code):
    assert code_problem("city", code, None, None) is not None


def test_a_city_code_must_end_in_00():
    assert code_problem("city", "990101", None, None) == "a city code ends in '00' (GB/T 2260), got '990101'"


def test_a_city_has_no_parent():
    assert code_problem("city", "990100", "city", "980100") == "a city has no parent"


@pytest.mark.parametrize("code", ["980101", "990201", "000101"])
def test_a_district_must_share_its_citys_four_digit_prefix(code):
    problem = code_problem("district", code, "city", CITY)
    assert problem == f"a district code must start with its city's '9901' and not end in '00', got {code!r}"


def test_a_district_code_must_not_end_in_00():
    assert "not end in '00'" in code_problem("district", "990100", "city", CITY)


@pytest.mark.parametrize(
    ("level", "code", "parent_lvl", "parent_code"),
    [
        ("street", "990102001", "district", DISTRICT),
        ("street", "100101001", "district", DISTRICT),
        ("community", "990101002001", "street", STREET),
        ("grid", "990101001002001", "community", COMMUNITY),
        ("grid", "990102001001001", "community", COMMUNITY),
    ],
)
def test_streets_communities_and_grids_must_extend_their_parents_code(level, code, parent_lvl, parent_code):
    problem = code_problem(level, code, parent_lvl, parent_code)
    assert problem == f"a {level} code must be its parent's code {parent_code} followed by 001–999, got {code!r}"


@pytest.mark.parametrize(
    ("level", "code", "parent_lvl", "parent_code"),
    [
        ("street", "990101000", "district", DISTRICT),
        ("community", "990101001000", "street", STREET),
        ("grid", "990101001001000", "community", COMMUNITY),
    ],
)
def test_the_three_digit_suffix_000_is_refused(level, code, parent_lvl, parent_code):
    assert "followed by 001–999" in code_problem(level, code, parent_lvl, parent_code)


@pytest.mark.parametrize(
    ("level", "code", "parent_lvl", "parent_code", "expected"),
    [
        ("district", DISTRICT, "district", "990102", "a district must sit directly under a city, not under a district"),
        ("street", STREET, "city", CITY, "a street must sit directly under a district, not under a city"),
        ("community", COMMUNITY, "district", DISTRICT,
         "a community must sit directly under a street, not under a district"),
        ("grid", GRID, "street", STREET, "a grid must sit directly under a community, not under a street"),
        ("grid", GRID, "grid", "990101001001002", "a grid must sit directly under a community, not under a grid"),
    ],
)
def test_a_region_must_sit_directly_under_the_level_above(level, code, parent_lvl, parent_code, expected):
    assert code_problem(level, code, parent_lvl, parent_code) == expected


@pytest.mark.parametrize(
    ("level", "code", "expected_parent"),
    [("district", DISTRICT, "city"), ("street", STREET, "district"), ("community", COMMUNITY, "street"),
     ("grid", GRID, "community")],
)
def test_every_level_below_city_needs_a_parent(level, code, expected_parent):
    assert code_problem(level, code, None, None) == f"a {level} needs a parent {expected_parent}"
    assert code_problem(level, code, None, "") == f"a {level} needs a parent {expected_parent}"


@pytest.mark.parametrize("level", ["village", "", "GRID", "unit grid"])
def test_an_unknown_level_is_refused(level):
    assert code_problem(level, GRID, "community", COMMUNITY).startswith(f"unknown level {level!r}")
