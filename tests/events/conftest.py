"""A small world for case tests: the small city, categories, departments and one user per role and place — built
once per test database (tests/factories.py: world_build), each test's changes to it rolled back.

    world.worker        grid worker of grid 990101001001001 (street 990101001)
    world.worker2       grid worker of grid 990101002001001 (street 990101002)
    world.dispatcher    street dispatcher of 990101001;   world.dispatcher_b of street 990101002
    world.district_dispatcher of 990101;  world.city_dispatcher of 990100
    world.handler       handler of world.dept (环卫, street 990101001);  world.handler_y of world.dept_y (street 990101001, 市政)
    world.supervisor    supervisor of district 990101;  world.operator  hotline operator of the city
"""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from events.actors import Actor
from events.models import Channel
from events.services import ReportInput, case_act, case_report
from tests.factories import world_load


def photo(name="p.jpg", fmt="JPEG", size=(8, 8), color=(200, 10, 10)) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, fmt)
    content_type = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}[fmt]
    return SimpleUploadedFile(name, buffer.getvalue(), content_type=content_type)


@pytest.fixture
def world(db):
    """The shared world (built once per test database: tests/conftest.py), read back for this test."""
    return world_load()


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
