"""The field app's budget (issue 17), measured in Chromium and printed — run by ``bench/field_bench.py`` (skipped in the
suite unless GRIDLOOP_BENCH=1: it takes a minute or two and loads the machine).

    first load       JS + CSS of the app page and of the service worker's shell, gzip-compressed (≤ 200 KB)
    offline open     /field/ opened from the service worker's cache with no network, until the tasks are shown
                     (≤ 1 s); the same opening online in the same run as the baseline
    outbox memory    50 reports × 3 photos (1600×1200 JPEG made in the page) queued in IndexedDB, then synced;
                     the Chromium processes' memory (sum of PSS from /proc, and the largest RSS) sampled every
                     100 ms — before queueing (baseline) and the peak during the sync (≤ 150 MB)
"""
import gzip
import os
import re
import statistics
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from events.models import Case
from tests.web.conftest import sign_in

pytestmark = [
    pytest.mark.browser, pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(os.environ.get("GRIDLOOP_BENCH") != "1", reason="a benchmark: run bench/field_bench.py"),
]
FIRST_LOAD_BUDGET_KB = 200
OFFLINE_OPEN_BUDGET_S = 1.0
SYNC_MEMORY_BUDGET_MB = 150
REPORTS, PHOTOS_EACH = 50, 3


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 390, "height": 844}, "locale": "en-US",
            "permissions": ["geolocation"], "is_mobile": True, "has_touch": True}


def _children(pid: int) -> list[int]:
    found, frontier = [], [pid]
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    while frontier:
        current = frontier.pop()
        kids = [p for p, parent in parents.items() if parent == current]
        found += kids
        frontier += kids
    return found


def chromium_memory() -> dict:
    """This test's Chromium processes, in MB: the sum of PSS over all of them, and the page's renderer process (the
    renderer with the most private memory): its PSS and its private memory (USS)."""
    total, renderer = 0.0, {"pss": 0.0, "uss": 0.0}
    for pid in _children(os.getpid()):
        try:
            if "chrom" not in Path(f"/proc/{pid}/comm").read_text():
                continue
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        kb = {name: int(value) for name, value in re.findall(r"^(\w+):\s+(\d+) kB", rollup, re.M)}
        pss, uss = kb["Pss"] / 1024, (kb["Private_Clean"] + kb["Private_Dirty"]) / 1024
        total += pss
        if b"--type=renderer" in cmdline and uss > renderer["uss"]:
            renderer = {"pss": pss, "uss": uss}
    return {"all_pss": total, "renderer_pss": renderer["pss"], "renderer_uss": renderer["uss"]}


def gzip_kb(url: str, session_cookie: str) -> float:
    request = urllib.request.Request(url, headers={"Cookie": session_cookie})
    with urllib.request.urlopen(request) as response:  # noqa: S310 - the live server
        return len(gzip.compress(response.read(), compresslevel=9)) / 1024


def open_controlled(page, live_server, world):
    lat, lng = world.point
    page.context.set_geolocation({"latitude": lat, "longitude": lng, "accuracy": 8})
    sign_in(page, live_server, world.worker)
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()
    page.locator("#field-status", has_text="Tasks and figures as of").wait_for()


def test_field_app_budget(page, live_server, world):
    figures = {}
    # --- first load: what the page loaded plus what the service worker keeps (JS and CSS only), gzip -9
    open_controlled(page, live_server, world)
    loaded = page.evaluate("() => performance.getEntriesByType('resource').map((e) => e.name)")
    shell = re.search(r"const SHELL_URLS = (\[.*?\]);", urllib.request.urlopen(
        f"{live_server.url}/field/sw.js").read().decode()).group(1)  # noqa: S310
    urls = {u for u in loaded if u.split("?")[0].endswith((".js", ".css"))}
    urls |= {live_server.url + u for u in re.findall(r'"([^"]+\.(?:js|css))"', shell)}
    cookies = "; ".join(f"{c['name']}={c['value']}" for c in page.context.cookies())
    sizes = {u.replace(live_server.url, ""): gzip_kb(u, cookies) for u in sorted(urls)}
    figures["first_load_gzip_kb"] = sum(sizes.values())

    # --- opening: online (baseline) and offline from the cache, 5 times each, median
    def open_once() -> float:
        start = time.perf_counter()
        page.goto(f"{live_server.url}/field/")
        page.locator("#field-status", has_text="Tasks and figures as of").wait_for()
        return time.perf_counter() - start

    online = [open_once() for _ in range(5)]
    page.context.set_offline(True)
    offline = [open_once() for _ in range(5)]
    page.context.set_offline(False)
    figures["open_online_s"] = statistics.median(online)
    figures["open_offline_s"] = statistics.median(offline)
    figures["open_offline_max_s"] = max(offline)

    # --- the outbox: 50 reports × 3 photos queued offline, then synced, memory sampled
    page.context.set_offline(True)
    page.goto(f"{live_server.url}/field/")
    page.locator("#field-status", has_text="Tasks and figures as of").wait_for()
    baseline = chromium_memory()
    lat, lng = world.point
    queued_bytes = page.evaluate("""async ([reports, each, lat, lng]) => {
        const open = await new Promise((ok) => { const r = indexedDB.open("gridloop-field"); r.onsuccess = () => ok(r.result); });
        let bytes = 0;
        for (let n = 0; n < reports; n++) {
            const photos = [];
            for (let p = 0; p < each; p++) {
                const canvas = document.createElement("canvas"); canvas.width = 1600; canvas.height = 1200;
                const g = canvas.getContext("2d");
                const grad = g.createLinearGradient(0, 0, 1600, 1200);
                grad.addColorStop(0, `hsl(${(n * 37 + p * 90) % 360}, 60%, 50%)`); grad.addColorStop(1, "#223");
                g.fillStyle = grad; g.fillRect(0, 0, 1600, 1200);
                for (let i = 0; i < 400; i++) { g.fillStyle = `hsl(${(i * 13) % 360}, 50%, ${30 + i % 40}%)`;
                    g.fillRect((i * 97) % 1600, (i * 61) % 1200, 40 + i % 60, 30 + i % 50); }
                const blob = await new Promise((ok) => canvas.toBlob(ok, "image/jpeg", 0.85));
                bytes += blob.size;
                photos.push({ field: "photos", blob, name: `photo-${n}-${p}.jpg`, taken: Date.now() });
            }
            const id = crypto.randomUUID();
            await new Promise((ok, fail) => {
                const t = open.transaction("outbox", "readwrite");
                t.objectStore("outbox").put({ id, key: id, kind: "report", created_at: Date.now() + n, state: "waiting",
                    attempts: 0, next_at: 0, summary: `bench ${n}`, photos,
                    fields: { channel: "patrol", description: `bench report ${n}`, category: "E0101",
                              lat: String(lat), lng: String(lng), address: "", self_handled: "" } });
                t.oncomplete = ok; t.onerror = fail;
            });
        }
        return bytes;
    }""", [REPORTS, PHOTOS_EACH, lat, lng])
    figures["queued_photo_mb"] = queued_bytes / 1e6

    peak = dict.fromkeys(baseline, 0.0)
    done = threading.Event()

    def sample():
        while not done.is_set():
            for name, value in chromium_memory().items():
                peak[name] = max(peak[name], value)
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    page.context.set_offline(False)
    page.reload()  # the app finds its outbox and sends it
    page.get_by_role("link", name=re.compile("Outbox")).click()
    # (the page is watched, not the database: SQLite's shared in-memory test database is busy with the sends)
    page.locator("#outbox-list li[data-state=sent]").nth(REPORTS - 1).wait_for(state="attached", timeout=600_000)
    figures["sync_s"] = time.perf_counter() - start
    done.set()
    sampler.join()
    page.goto("about:blank")  # the app stops asking the server (SQLite's test database is shared in memory)
    page.wait_for_timeout(1000)
    figures["cases_filed"] = Case.objects.count()

    print(f"\nField app budget (Chromium {page.context.browser.version}, this machine)")
    for url, kb in sizes.items():
        print(f"  {url:60s} {kb:7.1f} KB gzip")
    print(f"  first load JS + CSS (page + service worker shell): {figures['first_load_gzip_kb']:.1f} KB gzip "
          f"(budget {FIRST_LOAD_BUDGET_KB})")
    print(f"  open /field/ online  (median of 5): {figures['open_online_s'] * 1000:.0f} ms")
    print(f"  open /field/ offline (median of 5): {figures['open_offline_s'] * 1000:.0f} ms, "
          f"slowest {figures['open_offline_max_s'] * 1000:.0f} ms (budget {OFFLINE_OPEN_BUDGET_S * 1000:.0f})")
    print(f"  outbox: {REPORTS} reports × {PHOTOS_EACH} photos = {figures['queued_photo_mb']:.1f} MB of JPEG, "
          f"{figures['cases_filed']} cases filed in {figures['sync_s']:.1f} s")
    for label, values in (("before queueing", baseline), ("peak during the sync", peak)):
        print(f"  Chromium {label}: page renderer {values['renderer_pss']:.0f} MB PSS / {values['renderer_uss']:.0f} MB "
              f"private; all Chromium processes {values['all_pss']:.0f} MB PSS")
    print(f"  budget: {SYNC_MEMORY_BUDGET_MB} MB for the page's renderer process (PSS) during the sync")
    assert figures["cases_filed"] == REPORTS
    assert figures["first_load_gzip_kb"] <= FIRST_LOAD_BUDGET_KB
    assert figures["open_offline_s"] <= OFFLINE_OPEN_BUDGET_S
    assert peak["renderer_pss"] <= SYNC_MEMORY_BUDGET_MB
