"""Loading categories from CSV: all-or-nothing, every problem named by line and field."""

import pytest

from events.models import Category
from events.services import CategoryLoadError, categories_load

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_world")]  # loads into an empty table
HEADER = "kind,major_code,major_name,minor_code,minor_name,default_urgency,handling_limit,limit_unit,department_type\n"


def test_missing_columns_are_named_and_nothing_is_written(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("kind,major_code\nevent,01\n", encoding="utf-8")
    with pytest.raises(CategoryLoadError) as error:
        categories_load(path=path)
    assert "line 1: missing columns: major_name" in str(error.value.problems)
    assert not Category.objects.exists()


def test_a_file_that_is_not_utf8_csv_is_refused(tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes(b"\xff\xfe\x00k")
    with pytest.raises(CategoryLoadError) as error:
        categories_load(path=path)
    assert "cannot read as UTF-8 CSV" in str(error.value.problems)


def test_one_bad_line_names_its_line_and_field_and_writes_nothing(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(HEADER + "event,01,市容环境,01,暴露垃圾,normal,2,work_hour,环卫\n"
                    "event,01,市容环境,02,积存垃圾渣土,normal,-1,work_hour,环卫\n", encoding="utf-8")
    with pytest.raises(CategoryLoadError) as error:
        categories_load(path=path)
    assert any(p.startswith("line 3") and "handling_limit" in p for p in error.value.problems)
    assert not Category.objects.exists()
