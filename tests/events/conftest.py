"""A small world for case tests: the small city, categories, departments and one user per role and place.

    world.worker        grid worker of grid 990101001001001 (street 990101001)
    world.worker2       grid worker of grid 990101002001001 (street 990101002)
    world.dispatcher    street dispatcher of 990101001;   world.dispatcher_b of street 990101002
    world.district_dispatcher of 990101;  world.city_dispatcher of 990100
    world.handler       handler of world.dept (环卫, street 990101001);  world.handler_y of world.dept_y (street 990101001, 市政)
    world.supervisor    supervisor of district 990101;  world.operator  hotline operator of the city
"""

import io
from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from events.actors import Actor
from events.models import Category, Channel
from events.services import ReportInput, case_act, case_report, categories_load
from grids.models import Role
from tests.factories import grid_center, make_department, make_user, small_city


def photo(name="p.jpg", fmt="JPEG", size=(8, 8), color=(200, 10, 10)) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, fmt)
    content_type = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}[fmt]
    return SimpleUploadedFile(name, buffer.getvalue(), content_type=content_type)


@pytest.fixture
def world(db):
    regions = small_city()
    categories_load()
    w = SimpleNamespace(regions=regions)
    w.category = Category.objects.get(code="E0101")
    w.dept = make_department(regions["990101001"], type="环卫", code="s1-huanwei")
    w.dept_y = make_department(regions["990101001"], type="市政", code="s1-shizheng")
    w.dept_b = make_department(regions["990101002"], type="环卫", code="s2-huanwei")
    w.district_dept = make_department(regions["990101"], type="水务", code="d1-shuiwu")
    w.worker = make_user("worker", (Role.GRID_WORKER, regions["990101001001001"]))
    w.worker2 = make_user("worker2", (Role.GRID_WORKER, regions["990101002001001"]))
    w.dispatcher = make_user("dispatcher", (Role.DISPATCHER, regions["990101001"]))
    w.dispatcher_b = make_user("dispatcher_b", (Role.DISPATCHER, regions["990101002"]))
    w.district_dispatcher = make_user("district_dispatcher", (Role.DISPATCHER, regions["990101"]))
    w.city_dispatcher = make_user("city_dispatcher", (Role.DISPATCHER, regions["990100"]))
    w.handler = make_user("handler", (Role.HANDLER, w.dept))
    w.handler_y = make_user("handler_y", (Role.HANDLER, w.dept_y))
    w.supervisor = make_user("supervisor", (Role.SUPERVISOR, regions["990101"]))
    w.operator = make_user("operator", (Role.OPERATOR, regions["990100"]))
    w.grid = "990101001001001"
    w.point = grid_center(w.grid)
    return w


def file_patrol(w, **overrides):
    lat, lng = w.point
    data = ReportInput(channel=Channel.PATROL, description="垃圾堆放", lat=lat, lng=lng, category=w.category,
                       photos=[photo()])
    for key, value in overrides.items():
        setattr(data, key, value)
    case, _ = case_report(actor=Actor.staff(w.worker), data=data)
    return case


def file_hotline(w, **overrides):
    lat, lng = w.point
    data = ReportInput(channel=Channel.HOTLINE, description="路灯不亮", lat=lat, lng=lng,
                       citizen_name="张三", citizen_phone="13812341234")
    for key, value in overrides.items():
        setattr(data, key, value)
    case, _ = case_report(actor=Actor.staff(w.operator), data=data)
    return case


def act(case, action, user, **inputs):
    actor = Actor.staff(user) if user is not None else Actor.system("test")
    return case_act(case=case.number if hasattr(case, "number") else case, action=action, actor=actor, inputs=inputs)
