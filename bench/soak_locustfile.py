"""The soak test's load (bench/soak.py starts it): a city's day at a fixed intake rate, mixed.

Users: hotline operators and the Open311 app file reports, sensors stream signed readings, street dispatchers work
their queue (accept, dispatch), handlers sign, supervisors read the cockpit's API. A request that fails (5xx or no
answer, as during the injected worker kill and connection purge) is retried with the same Idempotency-Key, up to 5
times; the counts go to ``SOAK_OUT`` (JSON) when the run stops. Setup (tokens, key, device secrets) comes from
``SOAK_SETUP`` (JSON), written by bench/soak.py.
"""

import json
import os
import random
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from locust import HttpUser, constant_throughput, events, task

from events.sensors.signing import signed_headers

SETUP = json.loads(Path(os.environ["SOAK_SETUP"]).read_text())
RATE = float(os.environ.get("SOAK_INTAKE_RATE", "2.3"))  # reports a second, all channels together
COUNTS = {"acknowledged": 0, "retried_ok": 0, "failed_for_good": 0, "sensor_readings": 0}
LOCK = threading.Lock()
SEQ = iter(range(1, 10**9))


def bump(name, n=1):
    with LOCK:
        COUNTS[name] += n


@events.test_stop.add_listener
def _dump(**_):
    with open(os.environ["SOAK_OUT"], "w") as handle:
        json.dump(COUNTS, handle)


def point(rng):
    _code, lat0, lat1, lng0, lng1 = rng.choice(SETUP["grids"])
    return lat0 + (lat1 - lat0) * rng.uniform(0.1, 0.9), lng0 + (lng1 - lng0) * rng.uniform(0.1, 0.9)


class Soak(HttpUser):
    abstract = True

    def call(self, method, path, name, *, ok=(200, 201), headers=None, **kw):
        """One request, retried (same Idempotency-Key) while it fails with a 5xx or no answer."""
        headers = {"Accept-Language": "en", "Idempotency-Key": str(uuid.uuid4()), **(headers or {})}
        for attempt in range(6):
            with self.client.request(method, path, name=name, headers=headers, catch_response=True, **kw) as r:
                if r.status_code in ok or 400 <= r.status_code < 500:
                    r.success() if r.status_code in ok else r.failure(f"{r.status_code} {r.text[:200]}")
                    if attempt:
                        bump("retried_ok")
                    return r
                r.failure(f"{r.status_code or 'no answer'}")
            time.sleep(min(2 ** attempt, 8))
        bump("failed_for_good")
        return None


class Hotline(Soak):
    wait_time = constant_throughput(RATE * 0.6)

    @task
    def file(self):
        lat, lng = point(random)
        r = self.call("POST", "/api/v1/cases/", "POST /api/v1/cases/ (hotline)",
                      headers={"Authorization": f"Token {SETUP['tokens']['operator']}"},
                      json={"channel": "hotline", "description": "路灯不亮", "lat": lat, "lng": lng,
                            "citizen_name": "张三", "citizen_phone": "13812341234"})
        if r is not None and r.status_code == 201:
            bump("acknowledged")


class Open311App(Soak):
    wait_time = constant_throughput(RATE * 0.4)

    @task
    def file(self):
        lat, lng = point(random)
        r = self.call("POST", "/open311/v2/requests.json", "POST /open311/v2/requests.json",
                      data={"api_key": SETUP["open311_key"], "service_code": "E0102", "lat": lat, "long": lng,
                            "description": "垃圾堆放", "phone": "13900001111"})
        if r is not None and r.status_code in (200, 201):
            bump("acknowledged")


class Sensor(Soak):
    wait_time = constant_throughput(1.0)

    @task
    def stream(self):
        device, secret = random.choice(SETUP["devices"])
        body = json.dumps({"events": [{"device_id": device, "seq": next(SEQ), "metric": "water_level",
                                       "value": round(random.uniform(0, 0.1), 3),
                                       "ts": datetime.now(UTC).isoformat()}]}).encode()
        headers = {"Content-Type": "application/json",
                   **signed_headers(secret=secret, body=body, timestamp=int(time.time()), device_id=device)}
        if self.call("POST", "/api/v1/sensors/events", "POST /api/v1/sensors/events", headers=headers,
                     data=body) is not None:
            bump("sensor_readings")


class Dispatcher(Soak):
    wait_time = constant_throughput(0.5)

    @task
    def work(self):
        auth = {"Authorization": f"Token {SETUP['tokens']['dispatcher']}"}
        r = self.call("GET", "/api/v1/queues/street/", "GET /api/v1/queues/street/", headers=auth)
        if r is None or r.status_code != 200:
            return
        cases = [case for bucket in r.json()["buckets"].values() for case in bucket.get("items", [])]
        random.shuffle(cases)
        for case in cases[:2]:
            number, state = case.get("number"), case.get("state")
            if state == "reported":
                self.call("POST", f"/api/v1/cases/{number}/actions/accept/", "POST …/actions/accept/",
                          headers=auth, json={"category": "E0102"}, ok=(200,))
            elif state == "accepted":
                self.call("POST", f"/api/v1/cases/{number}/actions/dispatch/", "POST …/actions/dispatch/",
                          headers=auth, json={"department": SETUP["department"]}, ok=(200,))


class Handler(Soak):
    wait_time = constant_throughput(0.3)

    @task
    def sign(self):
        auth = {"Authorization": f"Token {SETUP['tokens']['handler']}"}
        r = self.call("GET", "/api/v1/my/cases/", "GET /api/v1/my/cases/", headers=auth)
        if r is None or r.status_code != 200:
            return
        body = r.json()
        for case in (body.get("results", []) if isinstance(body, dict) else body)[:1]:
            if case.get("state") == "dispatched":
                self.call("POST", f"/api/v1/cases/{case['number']}/actions/sign/", "POST …/actions/sign/",
                          headers=auth, json={}, ok=(200,))


class Supervisor(Soak):
    wait_time = constant_throughput(0.2)

    @task
    def cockpit(self):
        auth = {"Authorization": f"Token {SETUP['tokens']['supervisor']}"}
        self.call("GET", "/api/v1/metrics/indicators/?group_by=street", "GET /api/v1/metrics/indicators/",
                  headers=auth)
        self.call("GET", "/api/v1/cases/?open=true", "GET /api/v1/cases/", headers=auth)
