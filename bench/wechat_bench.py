"""WeChat reply time at 200 concurrent messages, safe mode, on gunicorn + PostgreSQL.

    .venv/bin/python bench/wechat_bench.py [--citizens 200] [--workers 2] [--threads 8]

In one run, against one gunicorn serving one PostgreSQL database (``gridloop_wechatbench``, dropped and made afresh,
with the demo city) and Redis as the Celery broker (db 12, emptied before and after; no worker runs, so the photo
downloads only get queued — their cost is not part of a reply):
1. baseline: ``GET /wechat/`` signature check returning echostr, in rounds of N requests released together;
2. Gridloop: N citizens talk to ``POST /wechat/`` in safe mode (AES), each round released together (a barrier):
   上报 → location → photo → 好了 → description (the case is filed); then every description is sent again (WeChat's
   retry: same MsgId, must not file again); then N/2 citizens send free text twice at the same moment (filed once as
   an unstructured report); then everyone asks 我的.
Every reply is decrypted and checked (its MsgSignature, the addressee, the expected words); the case count must be
N + N/2 exactly. Prints p50/p95/max reply time per round and overall against WeChat's 5 s limit, the baseline's,
and the peak RSS of the gunicorn processes.
"""

import argparse
import http.client
import itertools
import os
import re
import secrets
import signal
import statistics
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import fresh_demo_database, gunicorn_start, percentile, sh  # noqa: E402
from events.wechat.crypto import MessageCrypto, signature  # noqa: E402  (no Django needed)

DB_NAME = "gridloop_wechatbench"
PORT = 8767
REDIS_DB = 12
TOKEN, AES_KEY, APP_ID, ACCOUNT = "bench-token", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wx-bench", "gh_bench"
crypto = MessageCrypto(AES_KEY, APP_ID)
msg_ids = itertools.count(7_000_000_000_000_000_000)


def message(openid: str, msg_type: str, **fields) -> str:
    parts = [f"<ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
             f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>"]
    parts += [f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items()]
    parts.append(f"<MsgId>{next(msg_ids)}</MsgId>")
    return "<xml>" + "".join(parts) + "</xml>"


def safe_post(openid: str, xml: str) -> tuple[float, int, str]:
    """POST one message in safe mode on a fresh connection (as WeChat does); (seconds, status, decrypted reply)."""
    encrypt = crypto.encrypt(xml)
    timestamp, nonce = str(int(time.time())), str(secrets.randbelow(10**9))  # a fresh nonce per message, as WeChat
    params = {"signature": signature(TOKEN, timestamp, nonce), "timestamp": timestamp, "nonce": nonce,
              "openid": openid, "encrypt_type": "aes", "msg_signature": signature(TOKEN, timestamp, nonce, encrypt)}
    body = f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
    conn.request("POST", "/wechat/?" + urlencode(params), body=body.encode(), headers={"Content-Type": "text/xml"})
    response = conn.getresponse()
    content = response.read()
    elapsed = time.perf_counter() - started
    conn.close()
    if response.status != 200 or content == b"success":
        return elapsed, response.status, content.decode(errors="replace")
    fields = {child.tag: child.text or "" for child in ET.fromstring(content)}
    assert fields["MsgSignature"] == signature(TOKEN, fields["TimeStamp"], fields["Nonce"], fields["Encrypt"])
    inner = {child.tag: child.text or "" for child in ET.fromstring(crypto.decrypt(fields["Encrypt"]))}
    assert inner["ToUserName"] == openid, (inner, openid)
    return elapsed, response.status, inner["Content"]


def signature_get(index: int) -> tuple[float, int, str]:
    timestamp, nonce = str(int(time.time())), str(index)
    params = {"signature": signature(TOKEN, timestamp, nonce), "timestamp": timestamp, "nonce": nonce,
              "echostr": f"echo{index}"}
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
    conn.request("GET", "/wechat/?" + urlencode(params))
    response = conn.getresponse()
    content = response.read().decode()
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed, response.status, content


def burst(jobs: list) -> list[tuple[float, int, str]]:
    """Run the callables at the same moment (one thread each, released by a barrier); their results in order."""
    results: list = [None] * len(jobs)
    barrier = threading.Barrier(len(jobs))

    def run(index, job):
        barrier.wait()
        try:
            results[index] = job()
        except Exception as exc:  # noqa: BLE001 - counted as a failed reply
            results[index] = (999.0, 0, f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def summary(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (f"p50 {percentile(ms, 50):7.1f} ms  p95 {percentile(ms, 95):7.1f} ms  max {max(ms):7.1f} ms  "
            f"mean {statistics.mean(ms):7.1f} ms  (n={len(ms)})")


def peak_rss_mb(pid: int) -> tuple[float, float]:
    """(master, sum over workers) peak RSS of a gunicorn process tree, in MB (VmHWM)."""
    def hwm(p):
        try:
            text = Path(f"/proc/{p}/status").read_text()
        except OSError:
            return 0.0
        found = re.search(r"VmHWM:\s+(\d+) kB", text)
        return int(found.group(1)) / 1024 if found else 0.0

    children = sh("ps", "--ppid", str(pid), "-o", "pid=", check=False).stdout.split()
    return hwm(pid), sum(hwm(int(c)) for c in children)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--citizens", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    n = args.citizens

    broker = f"redis://127.0.0.1:6379/{REDIS_DB}"
    env = {**os.environ, "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}", "DJANGO_DEBUG": "0",
           "CELERY_BROKER_URL": broker, "GRIDLOOP_VAR_DIR": str(ROOT / "var" / "wechatbench"),
           "LOG_LEVEL": "WARNING", "GRIDLOOP_WECHAT_TOKEN": TOKEN, "GRIDLOOP_WECHAT_ENCODING_AES_KEY": AES_KEY,
           "GRIDLOOP_WECHAT_APP_ID": APP_ID, "GRIDLOOP_WECHAT_API_BASE": "", "GRIDLOOP_WECHAT_LANGUAGE": "en"}
    sh("redis-cli", "-n", str(REDIS_DB), "FLUSHDB")
    fresh_demo_database(DB_NAME, env)
    python = sys.executable
    pts = sh(python, "manage.py", "shell", "--no-imports", "-c", (
        "import json; from grids.models import Region;"
        "r = Region.objects.filter(level='grid').order_by('code')[:200];"
        "c = [x.boundary['coordinates'][0] for x in r];"
        "print(json.dumps([[(min(p[1] for p in ring)+max(p[1] for p in ring))/2,"
        "(min(p[0] for p in ring)+max(p[0] for p in ring))/2] for ring in c]))"
    ), env=env)
    points = __import__("json").loads(pts.stdout.strip().splitlines()[-1])

    gunicorn = gunicorn_start(env, port=PORT, workers=args.workers, threads=args.threads,
                              options=("--backlog", "2048"))
    rounds: dict[str, list] = {}
    try:
        burst([lambda i=i: signature_get(i) for i in range(20)])  # warm-up: workers import, connect
        burst([lambda i=i: safe_post(f"oWX-warm-{i}", message(f"oWX-warm-{i}", "text", Content="我的"))
               for i in range(20)])

        baseline = []
        for r in range(5):
            results = burst([lambda k=r * n + i: signature_get(k) for i in range(n)])
            assert all(s == 200 and c == f"echo{r * n + i}" for i, (_t, s, c) in enumerate(results)), results[:3]
            baseline += [t for t, _s, _c in results]

        openids = [f"oWX-bench-{i:04d}" for i in range(n)]
        steps = [
            ("上报", lambda o, i: message(o, "text", Content="上报"), "Step 1 of 3"),
            ("location", lambda o, i: message(o, "location", Location_X=points[i % len(points)][0],
                                              Location_Y=points[i % len(points)][1], Scale="15",
                                              Label=f"示范路 {i} 号"), "Step 2 of 3"),
            ("photo", lambda o, i: message(o, "image", PicUrl=f"http://mmbiz.example/{o}", MediaId=f"media-{o}"),
             "Photo 1 received"),
            ("好了", lambda o, i: message(o, "text", Content="好了"), "Step 3 of 3"),
        ]
        for name, make, expect in steps:
            results = burst([lambda o=o, i=i, make=make: safe_post(o, make(o, i)) for i, o in enumerate(openids)])
            bad = [c for _t, s, c in results if s != 200 or expect not in c]
            assert not bad, (name, bad[:3])
            rounds[name] = [t for t, _s, _c in results]
        descriptions = {o: message(o, "text", Content=f"井盖破损，编号 {i}") for i, o in enumerate(openids)}
        results = burst([lambda o=o: safe_post(o, descriptions[o]) for o in openids])
        first_replies = {o: c for o, (_t, s, c) in zip(openids, results, strict=True)}
        assert all(s == 200 and "filed as case" in c for _t, s, c in results), results[:3]
        rounds["description (files the case)"] = [t for t, _s, _c in results]
        results = burst([lambda o=o: safe_post(o, descriptions[o]) for o in openids])  # WeChat's retries
        assert all(c == first_replies[o] for o, (_t, _s, c) in zip(openids, results, strict=True)), results[:3]
        rounds["retry of the description"] = [t for t, _s, _c in results]
        half = openids[: n // 2]
        free = {o: message(o, "text", Content=f"路灯不亮已经三天了 {o}") for o in half}
        results = burst([lambda o=o: safe_post(o, free[o]) for o in half for _copy in (1, 2)])
        assert all(s == 200 and "filed as case" in c for _t, s, c in results), results[:3]
        rounds["free text, each sent twice at once"] = [t for t, _s, _c in results]
        results = burst([lambda o=o: safe_post(o, message(o, "text", Content="我的")) for o in openids])
        assert all(s == 200 and "Your reports" in c for _t, s, c in results), results[:3]
        rounds["我的 (list)"] = [t for t, _s, _c in results]
        master_rss, workers_rss = peak_rss_mb(gunicorn.pid)
    finally:
        gunicorn.send_signal(signal.SIGTERM)
        gunicorn.wait(timeout=30)

    counts = sh(python, "manage.py", "shell", "--no-imports", "-c", (
        "from events.models import Case, WeChatPhoto; print(Case.objects.count(), "
        "Case.objects.filter(unstructured=True).count(), WeChatPhoto.objects.count())"), env=env).stdout.split()
    cases, unstructured, photos = (int(x) for x in counts[-3:])
    queued = int(sh("redis-cli", "-n", str(REDIS_DB), "LLEN", "celery").stdout.strip() or 0)
    sh("redis-cli", "-n", str(REDIS_DB), "FLUSHDB")

    everything = [t for values in rounds.values() for t in values]
    print(f"\nWeChat replies, safe mode (AES), gunicorn {args.workers} workers × {args.threads} threads, PostgreSQL, "
          f"{n} messages released at once per round")
    print(f"  baseline GET signature check : {summary(baseline)}")
    for name, values in rounds.items():
        print(f"  {name:29s}: {summary(values)}")
    print(f"  all Gridloop messages        : {summary(everything)}")
    print(f"  over 5 s                     : {sum(1 for t in everything if t >= 5)} of {len(everything)}")
    print(f"  p95 ratio Gridloop / baseline: {percentile(everything, 95) / percentile(baseline, 95):.1f}")
    print(f"  cases filed                  : {cases} (expected {n} + {n // 2} = {n + n // 2}; "
          f"{unstructured} unstructured)")
    print(f"  photos queued                : {photos} rows, {queued} Celery messages")
    print(f"  peak RSS                     : gunicorn master {master_rss:.0f} MB, workers {workers_rss:.0f} MB total")
    if cases != n + n // 2 or unstructured != n // 2 or max(everything) >= 5:
        print("FAILED: lost or doubled reports, or a reply over 5 s", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
