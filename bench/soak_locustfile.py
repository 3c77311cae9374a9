"""The soak test's load (bench/soak.py starts it): a city's day at a fixed intake rate, mixed.

Users: intake from every channel — hotline operators, the Open311 app, citizens on the WeChat official account (the
guided report: 上报 → location → no photos → description) and grid workers on patrol (with a photo, in their own
grids) —, sensors stream signed readings, street dispatchers work their queue (accept, dispatch), handlers sign and
complete with a photo, grid workers verify on site (核查, with a photo), supervisors read the cockpit's API. A request that fails (5xx or no
answer, as during the injected worker kill and connection purge) is retried with the same Idempotency-Key, up to 5
times; the counts go to ``SOAK_OUT`` (JSON) when the run stops. Setup (tokens, key, device secrets) comes from
``SOAK_SETUP`` (JSON), written by bench/soak.py.
"""

import hashlib
import io
import json
import os
import random
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from locust import HttpUser, constant_throughput, events, task
from PIL import Image

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


def point(rng, prefix=""):
    _code, lat0, lat1, lng0, lng1 = rng.choice([g for g in SETUP["grids"] if g[0].startswith(prefix)])
    return lat0 + (lat1 - lat0) * rng.uniform(0.1, 0.9), lng0 + (lng1 - lng0) * rng.uniform(0.1, 0.9)


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (90, 140, 60)).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


PHOTO = _jpeg()


def photo_files():
    return [("photos", ("photo.jpg", PHOTO, "image/jpeg"))]


def case_list(response) -> list[dict]:
    body = response.json()
    return body.get("results", []) if isinstance(body, dict) else body


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
    wait_time = constant_throughput(RATE * 0.4)

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
    wait_time = constant_throughput(RATE * 0.25)

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


class WeChatCitizen(Soak):
    """A citizen's guided report on the official account, in plaintext mode as WeChat's servers send it (signed query,
    a fresh nonce each time). Four messages; the last one's reply names the new case."""

    wait_time = constant_throughput(RATE * 0.15)

    def send(self, openid, msg_type, **fields):
        now = int(time.time())
        nonce = str(next(SEQ))
        signature = hashlib.sha1("".join(sorted([SETUP["wechat_token"], str(now), nonce])).encode()).hexdigest()
        parts = [f"<ToUserName><![CDATA[gh_soak]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
                 f"<CreateTime>{now}</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>"]
        parts += [f"<{k}><![CDATA[{v}]]></{k}>" if isinstance(v, str) else f"<{k}>{v}</{k}>" for k, v in fields.items()]
        parts.append(f"<MsgId>{random.getrandbits(62)}</MsgId>")
        query = f"signature={signature}&timestamp={now}&nonce={nonce}&openid={openid}"
        return self.call("POST", f"/wechat/?{query}", "POST /wechat/",
                         data=("<xml>" + "".join(parts) + "</xml>").encode(),
                         headers={"Content-Type": "text/xml"})

    @task
    def report(self):
        openid = f"o-soak-{uuid.uuid4().hex[:20]}"
        lat, lng = point(random)
        steps = [("text", {"Content": "上报"}),
                 ("location", {"Location_X": lat, "Location_Y": lng, "Scale": 16, "Label": "soak"}),
                 ("text", {"Content": "无"}),
                 ("text", {"Content": "井盖缺失，请尽快处理"})]
        for msg_type, fields in steps:
            r = self.send(openid, msg_type, **fields)
            if r is None or r.status_code != 200:
                return
        bump("acknowledged")


class GridWorker(Soak):
    """A grid worker on patrol: reports with a photo in their own grids (accepted on filing by rule), and checks
    handled cases there on site (核查, with a photo)."""

    wait_time = constant_throughput(RATE * 0.2)

    @task(3)
    def patrol(self):
        lat, lng = point(random, SETUP["worker_community"])
        r = self.call("POST", "/api/v1/cases/", "POST /api/v1/cases/ (patrol)",
                      headers={"Authorization": f"Token {SETUP['tokens']['worker']}"},
                      data={"channel": "patrol", "description": "垃圾堆放", "lat": lat, "lng": lng,
                            "category": "E0102"}, files=photo_files())
        if r is not None and r.status_code == 201:
            bump("acknowledged")

    @task(1)
    def verify(self):
        auth = {"Authorization": f"Token {SETUP['tokens']['worker']}"}
        r = self.call("GET", "/api/v1/cases/?status=handled", "GET /api/v1/cases/?status=handled", headers=auth)
        for case in (case_list(r) if r is not None and r.status_code == 200 else [])[:1]:
            self.call("POST", f"/api/v1/cases/{case['number']}/actions/verify/", "POST …/actions/verify/",
                      headers=auth, data={}, files=photo_files(), ok=(200,))


class Handler(Soak):
    """A handler of the street's sanitation department: signs what was dispatched, completes with a photo."""

    wait_time = constant_throughput(0.4)

    @task
    def work(self):
        auth = {"Authorization": f"Token {SETUP['tokens']['handler']}"}
        r = self.call("GET", "/api/v1/cases/?status=dispatched,handling", "GET /api/v1/cases/?status=…",
                      headers=auth)
        if r is None or r.status_code != 200:
            return
        cases = case_list(r)
        random.shuffle(cases)
        for case in cases[:2]:
            if case.get("state") == "dispatched":
                self.call("POST", f"/api/v1/cases/{case['number']}/actions/sign/", "POST …/actions/sign/",
                          headers=auth, json={}, ok=(200,))
            elif case.get("state") == "handling":
                self.call("POST", f"/api/v1/cases/{case['number']}/actions/complete/", "POST …/actions/complete/",
                          headers=auth, data={"note": "已清理"}, files=photo_files(), ok=(200,))


class Supervisor(Soak):
    wait_time = constant_throughput(0.2)

    @task
    def cockpit(self):
        auth = {"Authorization": f"Token {SETUP['tokens']['supervisor']}"}
        self.call("GET", "/api/v1/metrics/indicators/?group_by=street", "GET /api/v1/metrics/indicators/",
                  headers=auth)
        self.call("GET", "/api/v1/cases/?open=true", "GET /api/v1/cases/", headers=auth)
