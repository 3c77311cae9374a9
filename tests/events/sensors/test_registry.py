"""The device registry: registration (grid located, secret made), its bad inputs, the CSV import with line/field
errors and nothing half-written, integration keys, and registration in the Django admin."""

import csv
import os
import stat

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from config.errors import InvalidInput, Unprocessable
from events.sensors.models import SensorDevice, SensorIntegrationKey
from events.sensors.services import (
    DeviceImportError,
    device_register,
    devices_import,
    integration_key_create,
)
from grids.models import Department
from tests.factories import grid_center

pytestmark = pytest.mark.django_db


def fields(w, **overrides):
    lat, lng = w.point
    data = {"device_id": "N-001", "type": "noise", "lat": lat, "lng": lng, "department": w.dept.code}
    data.update(overrides)
    return data


def test_a_device_is_registered_in_the_grid_of_its_point_with_a_secret_made_for_it(world):
    device, created, secret = device_register(**fields(world), name="夜市噪声计")
    assert created and device.grid.code == world.grid and device.region_code == world.grid
    assert device.department == world.dept and device.active
    assert len(secret) == 64 and device.secret == secret


def test_registering_again_updates_the_device_and_keeps_its_secret(world):
    device, _, secret = device_register(**fields(world))
    lat, lng = grid_center("990101002001001")
    again, created, made = device_register(**fields(world, lat=lat, lng=lng, department=world.dept_b))
    assert (again.pk, created, made) == (device.pk, False, "")
    assert again.grid.code == "990101002001001" and again.secret == secret
    assert device_register(**fields(world, secret="s" * 32))[0].secret == "s" * 32


@pytest.mark.parametrize("change, field", [
    ({"device_id": "W/001"}, "device_id"),
    ({"device_id": ""}, "device_id"),
    ({"device_id": "x" * 65}, "device_id"),
    ({"type": "radar"}, "type"),
    ({"lat": "north"}, "lat"),
    ({"lat": 91}, "lat"),
    ({"lng": None}, "lng"),
    ({"department": "no-such-dept"}, "department"),
    ({"secret": "short"}, "secret"),
    ({"integration_key": "ik_unknown"}, "integration_key"),
    ({"active": "perhaps"}, "active"),
])
def test_a_bad_registration_is_refused_naming_the_field(world, change, field):
    with pytest.raises(InvalidInput) as refused:
        device_register(**fields(world, **change))
    assert refused.value.field == field
    assert not SensorDevice.objects.exists()


@pytest.mark.usefixtures("in_english")
def test_a_point_outside_the_service_area_is_a_422(world):
    with pytest.raises(Unprocessable) as refused:
        device_register(**fields(world, lat=10.0, lng=10.0))
    assert refused.value.field == "lat" and "outside the service area" in refused.value.message


def test_an_inactive_department_cannot_own_a_sensor(world):
    Department.objects.filter(pk=world.dept.pk).update(active=False)
    with pytest.raises(InvalidInput) as refused:
        device_register(**fields(world))
    assert refused.value.field == "department"


def test_an_integration_key_gets_an_id_and_a_secret(db):
    key = integration_key_create(name="某物联网平台")
    assert key.key_id.startswith("ik_") and len(key.secret) == 64 and key.active
    with pytest.raises(InvalidInput):
        integration_key_create(name=" ")


# --- CSV import ------------------------------------------------------------------------------------------------------
def write_csv(path, rows, columns=("device_id", "type", "lat", "lng", "department", "name", "secret")):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)
    return path


def test_a_csv_registers_and_updates_devices_and_writes_the_new_secrets_to_a_private_file(world, tmp_path):
    lat, lng = world.point
    device_register(**fields(world, device_id="N-OLD"))
    path = write_csv(tmp_path / "s.csv", [
        ["W-101", "water_level", lat, lng, world.district_dept.code, "下穿桥", ""],
        ["W-102", "water_level", lat, lng, world.district_dept.code, "", "k" * 40],
        ["N-OLD", "noise", lat, lng, world.dept_y.code, "改派", ""],
    ])
    out = tmp_path / "secrets.csv"
    call_command("import_sensors", str(path), "--secrets-out", str(out))
    assert SensorDevice.objects.count() == 3
    assert SensorDevice.objects.get(device_id="N-OLD").department == world.dept_y
    assert SensorDevice.objects.get(device_id="W-102").secret == "k" * 40
    with open(out, encoding="utf-8") as handle:
        written = list(csv.reader(handle))
    assert written[0] == ["device_id", "secret"] and [r[0] for r in written[1:]] == ["W-101"]
    assert written[1][1] == SensorDevice.objects.get(device_id="W-101").secret
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert b"\r" not in out.read_bytes()  # `cut -d, -f2` must give the secret without a trailing CR


@pytest.mark.usefixtures("in_english")
def test_a_csv_with_problems_lists_each_line_and_field_and_writes_nothing(world, tmp_path):
    lat, lng = world.point
    path = write_csv(tmp_path / "bad.csv", [
        ["W-201", "water_level", lat, lng, world.district_dept.code, "", ""],
        ["W/202", "radar", "x", lng, "nope", "", ""],
        ["W-203", "smoke", 10.0, 10.0, world.district_dept.code, "", ""],
        ["W-201", "water_level", lat, lng, world.district_dept.code, "", ""],
    ])
    with pytest.raises(DeviceImportError) as refused:
        devices_import(path=path)
    problems = refused.value.problems
    assert problems == [
        "line 3, field device_id: must be 1–64 letters, digits or _ . : - (starting with a letter or digit) "
        "(got 'W/202')",
        "line 3, field type: must be one of water_level, manhole_tilt, smoke, bin_fill, noise, other (got 'radar')",
        "line 3, field lat: must be a number from -90 to 90 (got 'x')",
        "line 3, field department: no department with code 'nope' (got 'nope')",
        "line 4, field lat: this point is outside the service area (no unit grid contains it) (got '10.0')",
        "line 5, field device_id: W-201 is also on line 2",
    ]
    assert not SensorDevice.objects.exists()
    with translation.override("zh-hans"), pytest.raises(CommandError, match="nothing was written") as failed:
        call_command("import_sensors", str(path))
    assert "line 3, field lat: must be a number from -90 to 90 (got 'x')" in str(failed.value)  # not half Chinese


@pytest.mark.parametrize("content, problem", [
    ("device_id,type\nW-1,noise\n", "line 1: missing columns: lat, lng, department"),
    ("device_id,type,lat,lng,department\n", "the file has no sensor rows"),
])
def test_a_csv_without_the_needed_columns_or_rows_is_refused(db, tmp_path, content, problem):
    path = tmp_path / "s.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DeviceImportError) as refused:
        devices_import(path=path)
    assert refused.value.problems == [problem]


def test_a_file_that_is_not_utf8_csv_is_refused(db, tmp_path):
    path = tmp_path / "s.csv"
    path.write_bytes(b"device_id,type\n\xff\xfe\xfd")
    with pytest.raises(DeviceImportError, match="cannot read as UTF-8 CSV"):
        devices_import(path=path)
    with pytest.raises(DeviceImportError, match="cannot read"):
        devices_import(path=tmp_path / "missing.csv")


def test_without_secrets_out_the_new_secrets_are_printed(world, tmp_path, capsys):
    lat, lng = world.point
    path = write_csv(tmp_path / "s.csv", [["W-301", "water_level", lat, lng, world.district_dept.code, "", ""]])
    call_command("import_sensors", str(path))
    out = capsys.readouterr().out
    secret = SensorDevice.objects.get().secret
    assert "sensors: 1 created, 0 updated" in out and f"W-301,{secret}" in out


# --- Admin -----------------------------------------------------------------------------------------------------------
@pytest.fixture
def admin_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.org", "pw-for-tests-only")
    client.force_login(user)
    return client


def test_an_admin_registers_a_device_and_sees_its_secret_once(world, admin_client):
    lat, lng = world.point
    response = admin_client.post("/admin/events/sensordevice/add/", {
        "device_id": "M-001", "type": "manhole_tilt", "name": "", "lat": lat, "lng": lng, "address": "",
        "department": world.dept_y.pk, "integration_key": "", "active": "on",
    }, follow=True)
    assert response.status_code == 200
    device = SensorDevice.objects.get(device_id="M-001")
    assert device.grid.code == world.grid
    assert device.secret in response.content.decode()
    change = admin_client.get(f"/admin/events/sensordevice/{device.pk}/change/").content.decode()
    assert device.secret not in change and device.secret[:4] in change


def test_the_admin_form_shows_why_a_device_cannot_be_registered(world, admin_client):
    response = admin_client.post("/admin/events/sensordevice/add/", {
        "device_id": "M-002", "type": "manhole_tilt", "lat": 10.0, "lng": 10.0,
        "department": world.dept_y.pk, "active": "on",
    }, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert "outside the service area" in response.content.decode()
    assert not SensorDevice.objects.exists()


def test_an_admin_makes_an_integration_key_and_sees_its_secret_once(db, admin_client):
    response = admin_client.post("/admin/events/sensorintegrationkey/add/", {"name": "平台甲"}, follow=True)
    key = SensorIntegrationKey.objects.get()
    assert key.secret in response.content.decode()


def test_an_admin_gives_devices_new_secrets(world, admin_client):
    device, _, old = device_register(**fields(world))
    response = admin_client.post("/admin/events/sensordevice/", {
        "action": "rotate_secrets", "_selected_action": [device.pk]}, follow=True)
    device.refresh_from_db()
    assert device.secret != old and device.secret in response.content.decode()
