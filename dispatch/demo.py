"""The demo city with a history (示范市): ``demo_city_make`` builds the geography and staff (``grids.demo``), loads
the bundled categories, then lives through ``history_days`` days (default 90) of city work and finishes with the
evaluation rollups, the league tables and the district briefings, so that every screen has data at once.

The history is made only through the real services, under controlled time (``time_machine.travel(…, tick=False)``,
moved forward event by event): ``events.services.case_report`` and ``case_act`` for every report and transition,
``events.open311.services.open311_request_submit`` for the Open311 app, ``events.wechat.conversation.message_receive``
for free-text WeChat messages, ``events.sensors.services.sensor_events_ingest`` for sensor readings (their rules open
the cases), ``dispatch.supervision.supervision_reply`` for replies to 督办 orders, and ``dispatch.sweep.sweep`` run
at fixed times of each simulated day — so lights, overdue stages and the street → district → city escalations come
from the real SLA rules, not from the script. Nothing is inserted behind the services' backs.

Each case follows a plan drawn from ``random.Random`` seeded by ``seed`` and its index: its channel (patrol, hotline,
WeChat, Open311, sensor), place, category and outcome — closed on time, late (a stage past its deadline, escalated by
the sweep), escalated by a dispatcher, stuck until the city center holds it, returned and re-dispatched, reworked,
suspended, extended (or refused an extension), merged as a duplicate, rated 1–5, reopened after a bad rating,
cancelled, rejected, checked on site (核实) first, or handled on the spot by the grid worker; some get an urge (催办)
or a supervision order (督办) with or without a reply. The delay before each step is a fraction of the running stage
clock's limit, so "on time" and "late" mean what the clocks say. Cases reported shortly before the end are left where
their plan stands at that moment, and a few plans per queue stop on purpose in the last hours, so that there is open
work in every bucket now: new, awaiting dispatch, returned, escalated, yellow and red lights, dispatched, handling,
suspended, handled, verified, an extension request waiting and supervision orders waiting for a reply.

The same seed, sizes, case count and end moment give the same cases, numbers and outcomes. Photos are small JPEGs
drawn with Pillow (a coloured street scene with the case number or grid code written on it) and go through the same
photo checks and storage as uploads through the API.

Everything is one transaction: a failure leaves the database as it was (and removes the photos it wrote).
``reset=True`` first deletes the cases and everything about them (events, clocks, outbox, supervision orders, facts,
rollups, league tables, sensors, WeChat and Open311 records) and, after the commit, their photo files.
"""

from __future__ import annotations

import contextlib
import heapq
import io
import itertools
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import time_machine
from django.apps import apps
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.utils import timezone
from PIL import Image, ImageDraw, ImageFont

from config.errors import DomainError, InvalidInput, PermissionDenied
from events.actors import Actor, citizen_key
from events.models import (
    Attachment,
    Case,
    CaseEvent,
    CaseState,
    Category,
    Channel,
    CommandLevel,
    LimitUnit,
    WeChatMessage,
)
from events.open311.services import open311_key_create, open311_request_submit
from events.sensors.models import SensorRule, SensorRuleState
from events.sensors.services import device_register, sensor_events_ingest
from events.services import ReportInput, case_act, case_report, categories_load
from events.wechat.conversation import message_receive
from events.wechat.protocol import Inbound
from grids.demo import DemoCity, demo_city_build, demo_refuse_in_production
from grids.models import Department, DepartmentType, Level, Region, Role, RoleAssignment

from .clocks import STAGE_OF_STATE
from .evaluation.briefing import briefings_for_districts
from .evaluation.rollups import rollups_rebuild
from .evaluation.scores import league_tables_compute
from .models import StageClock, SupervisionOrder
from .sla import limit_for
from .supervision import supervision_reply
from .sweep import sweep

HISTORY_DAYS = 90
CASES_PER_90_DAYS = 3000  # the default case count, scaled to --history-days
MAX_HISTORY_DAYS = 366
MAX_CASES = 20_000
PHOTO_SIZE = (480, 360)
# Local hours of the simulated sweeps (beat runs it every few seconds): a breach is escalated within 6 hours.
SWEEP_HOURS = (2, 8, 11, 14, 17, 20)
SWEEP_GAP_HOURS = 6
KEEP_ON_RESET = ("Category", "SlaPolicy", "CalendarOverride", "Heartbeat")  # configuration, not city life

# Outcomes of cases that have time to finish, and their weights.
OUTCOMES = {
    "resolved": 50, "self_handled": 9, "late": 7, "escalated": 3, "escalated_twice": 1.5, "returned": 5,
    "reworked": 5, "suspended": 2, "extended": 4, "extension_denied": 1, "duplicate": 3, "reopened": 3,
    "cancelled": 1.5, "rejected": 2.5, "field_checked": 2,
}
# Plans that stop on purpose in the last hours: open work in every queue now.
OPEN_NOW = ("open_new", "open_awaiting", "open_returned", "open_escalated", "open_yellow", "open_red",
            "open_dispatched", "open_handling", "open_suspended", "open_handled", "open_verified",
            "open_extension", "open_supervised")
CHANNELS = {Channel.PATROL: 46, Channel.HOTLINE: 26, Channel.WECHAT: 14, Channel.OPEN311: 8, Channel.SENSOR: 6}
CITIZEN_CHANNELS = (Channel.HOTLINE, Channel.WECHAT, Channel.OPEN311)
EARLY_CHANNELS = (*CITIZEN_CHANNELS, *CITIZEN_CHANNELS[:2], Channel.SENSOR, Channel.PATROL)
RATINGS = (5,) * 55 + (4,) * 25 + (3,) * 12 + (2,) * 5 + (1,) * 3

# Sensor types the demo installs, with the rule each gets and its category.
SENSOR_KINDS = [
    # (type, metric, comparison, threshold, duration, category, breach value, normal value, name)
    ("water_level", "water_level", "gt", 0.15, 300, "E0406", 0.32, 0.02, "下穿通道积水监测"),
    ("manhole_tilt", "tilt_deg", "gt", 15.0, 0, "C0102", 38.0, 1.0, "井盖倾斜监测"),
    ("bin_fill", "fill_pct", "gte", 90.0, 600, "C0302", 97.0, 35.0, "垃圾箱满溢监测"),
    ("smoke", "smoke", "gt", None, 0, "E0410", 1.0, 0.0, "烟感报警"),
]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文斌林波宇浩凯健俊帆鹏辉婷雪琳晨欣怡"
DETAILS = ["已影响行人通行", "附近居民反映多次", "请尽快处理", "存在安全隐患", "夜间尤其明显", "已持续两三天",
           "早晚高峰影响较大", "旁边是小学门口", "老人经过不方便", "下雨后更严重"]
PLACES = ["号楼旁", "号门口", "号附近", "号对面", "号南侧", "号北侧", "号路口"]
RETURN_REASONS = ["非本单位职责，应由{dept}处置", "经现场核实属{dept}管辖，退回重新派遣"]
REJECT_REASONS = ["不属于城市管理受理范围，已告知反映人向相关部门反映", "反映内容为物业小区内部事务，已告知联系物业",
                  "经核实为重复反映，已有案卷办理中"]
CANCEL_REASONS = ["反映人撤回诉求，经核实问题已不存在", "立案信息错误（地点不符），作废后重新立案",
                  "问题已由产权单位自行处置完毕"]
REWORK_REASONS = ["现场核查未处置到位，仍有残留", "处置后照片与现场不符，请重新处置", "只处理了一半，请彻底处理"]
EXTENSION_REASONS = ["需协调产权单位共同处置", "材料采购周期较长", "需办理占道施工审批"]
SUSPEND_REASONS = ["涉及管线迁改，需等待产权单位排期", "需等待天气好转后施工", "涉及司法程序，暂缓处置"]
ESCALATE_REASONS = ["涉及多个部门，街道无法协调，提请区指挥中心", "问题复杂，超出街道处置能力"]
URGE_NOTES = ["群众反映强烈，请加快处置", "该案卷即将超期，请抓紧办理", "请今日内反馈处置进展"]
SUPERVISE_NOTES = ["请于期限内书面回复处置情况及整改措施", "领导批示：限期处置到位并回复", "重点案件，请专人跟进并回复"]
REPLIES = ["已安排专人现场处置，预计明日完成", "已协调相关单位，正在处置中", "已处置完毕，现场已恢复"]
COMMENTS = {5: ["处理很及时，非常满意", "效率很高，点赞", "问题解决了，谢谢"], 4: ["基本满意", "处理了，速度还可以"],
            3: ["处理了但不彻底", "时间有点长"], 2: ["问题没有彻底解决", "拖了很久"], 1: ["根本没处理", "很不满意"]}


# --- Results -----------------------------------------------------------------------------------------------------------
@dataclass
class DemoHistory:
    """What the history made (counted in the database at the end). ``outcomes`` counts the planned outcome of each
    case reported; ``skipped`` lists plan steps a service refused (none is expected)."""

    days: int
    start: datetime
    end: datetime
    cases: int = 0
    events: int = 0
    photos: int = 0
    sensors: int = 0
    supervision_orders: int = 0
    by_state: dict[str, int] = field(default_factory=dict)
    by_channel: dict[str, int] = field(default_factory=dict)
    outcomes: Counter = field(default_factory=Counter)
    escalations: int = 0
    league_tables: int = 0
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class DemoResult:
    city: DemoCity
    categories: int
    history: DemoHistory | None
    seconds: float = 0.0


# --- Entry point -------------------------------------------------------------------------------------------------------
def demo_city_make(*, districts: int = 3, streets: int = 4, communities: int = 5, grids: int = 10, seed: int = 1,
                   reset: bool = False, history_days: int = HISTORY_DAYS, cases: int | None = None,
                   password: str | None = None, say: Callable[[str], None] | None = None,
                   progress: Callable[[float, str], None] | None = None, end: datetime | None = None) -> DemoResult:
    """Build the demo city and its history (module docstring). ``cases`` defaults to 3,000 per 90 days of history;
    ``end`` (default: now) is the moment the history leads up to. ``say`` gets a line per phase, ``progress`` the
    fraction done and a short label. Raises InvalidInput naming the option for bad input, under
    GRIDLOOP_PRODUCTION=1, and when regions exist without ``reset``; nothing is written then."""
    started = time.perf_counter()
    demo_refuse_in_production()
    if isinstance(history_days, bool) or not isinstance(history_days, int) or not 0 <= history_days <= MAX_HISTORY_DAYS:
        raise InvalidInput(f"--history-days must be a whole number from 0 to {MAX_HISTORY_DAYS}, got {history_days!r}",
                           field="history_days")
    if cases is None:
        cases = round(CASES_PER_90_DAYS * history_days / HISTORY_DAYS)
    elif isinstance(cases, bool) or not isinstance(cases, int) or not 0 <= cases <= MAX_CASES:
        raise InvalidInput(f"--cases must be a whole number from 0 to {MAX_CASES:,}, got {cases!r}", field="cases")
    if history_days == 0:
        cases = 0
    say = say or (lambda message: None)
    old_photos: list[str] = []
    written: list[str] = []
    if connection.vendor == "sqlite":  # the whole build is one transaction: keep its pages in memory, not spilled
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA cache_size = -262144")  # up to 256 MB, for this connection only
    muted = logging.root.manager.disable
    logging.disable(logging.INFO)  # thousands of routine notices ("nobody to notify" …) would flood the output
    try:
        with transaction.atomic():
            if reset and Region.objects.exists():
                say("reset: deleting the cases, their history and their photos")
                old_photos = demo_history_clear()
            city = demo_city_build(districts=districts, streets=streets, communities=communities, grids=grids,
                                   seed=seed, reset=reset, password=password, progress=say)
            say("categories: loading the bundled set")
            categories_load()
            history = None
            if history_days:
                history = _History(seed=seed, days=history_days, cases=cases, end=end or timezone.now(), say=say,
                                   progress=progress, written=written).run()
    except BaseException:
        _files_delete(written)  # photos of a history that was rolled back
        raise
    finally:
        logging.disable(muted)
    if old_photos:
        _files_delete(old_photos)
    return DemoResult(city=city, categories=Category.objects.count(), history=history,
                      seconds=time.perf_counter() - started)


def demo_history_clear() -> list[str]:
    """Delete every case and everything about it (all rows of the events and dispatch apps but the configuration:
    categories, SLA policies, calendar overrides). Returns the names of the photo files, for the caller to delete
    once this has committed. On PostgreSQL the tables are truncated: the case event log refuses DELETE."""
    photos = list(Attachment.objects.values_list("file", flat=True))
    models = [model for label in ("events", "dispatch")
              for model in apps.get_app_config(label).get_models(include_auto_created=True)
              if model.__name__ not in KEEP_ON_RESET]
    tables = [connection.ops.quote_name(model._meta.db_table) for model in models]
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # FK checks of rows written earlier in an enclosing transaction must fire before TRUNCATE
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("TRUNCATE " + ", ".join(tables))
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        else:  # SQLite checks foreign keys at commit: the order does not matter inside the transaction
            for table in tables:
                cursor.execute(f"DELETE FROM {table}")
    return photos


def _files_delete(names: list[str]) -> None:
    for name in names:
        with contextlib.suppress(OSError):
            default_storage.delete(name)


# --- Photos ------------------------------------------------------------------------------------------------------------
_FONTS: dict[int, ImageFont.ImageFont] = {}
_SCENES: dict[tuple, Image.Image] = {}


def _font(size: int):
    if size not in _FONTS:
        try:
            _FONTS[size] = ImageFont.load_default(size=size)
        except (OSError, TypeError, ImportError):  # Pillow built without FreeType: the bitmap font
            _FONTS[size] = ImageFont.load_default()
    return _FONTS[size]


def _scene(variant: int) -> Image.Image:
    """One of a few street scenes (sky, buildings, road), drawn once and copied for every photo."""
    if variant not in _SCENES:
        rng = random.Random(variant)
        width, height = PHOTO_SIZE
        image = Image.new("RGB", PHOTO_SIZE, (120 + 10 * variant % 60, 160, 215))
        draw = ImageDraw.Draw(image)
        x = 0
        while x < width:
            w, h = rng.randint(50, 120), rng.randint(120, 300)
            shade = rng.randint(120, 210)
            draw.rectangle([x, height * 0.7 - h, x + w, height * 0.7], fill=(shade, shade - 20, shade - 40))
            for wy in range(int(height * 0.7 - h) + 12, int(height * 0.7) - 12, 28):
                for wx in range(x + 8, x + w - 12, 22):
                    draw.rectangle([wx, wy, wx + 10, wy + 14], fill=(240, 230, 170))
            x += w + rng.randint(4, 20)
        draw.rectangle([0, int(height * 0.7), width, height], fill=(85, 88, 92))
        for sx in range(10, width, 90):
            draw.rectangle([sx, int(height * 0.85), sx + 50, int(height * 0.85) + 6], fill=(235, 235, 235))
        _SCENES[variant] = image
    return _SCENES[variant]


PHOTO_COLOURS = {"REPORT": (220, 60, 40), "BEFORE": (220, 120, 30), "AFTER": (40, 160, 80), "CHECK": (40, 110, 200)}


def demo_photo(label: str, title: str, when: datetime, variant: int) -> SimpleUploadedFile:
    """A JPEG of a street scene with a coloured marker (red: reported, green: handled, blue: checked), ``title``
    (the case number or the grid code) and the local time written on it."""
    image = _scene(variant % 6).copy()
    draw = ImageDraw.Draw(image)
    width, height = PHOTO_SIZE
    colour = PHOTO_COLOURS[label]
    cx, cy = width // 2 + (variant * 37) % 200 - 100, int(height * 0.78)
    draw.ellipse([cx - 60, cy - 30, cx + 60, cy + 30], outline=colour, width=8)
    draw.rectangle([0, 0, width, 70], fill=(0, 0, 0))
    draw.text((16, 8), f"{label}  {title}", fill=colour, font=_font(30))
    draw.text((16, 44), timezone.localtime(when).strftime("%Y-%m-%d %H:%M  Gridloop demo"), fill=(230, 230, 230),
              font=_font(18))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=70)
    return SimpleUploadedFile(f"{label.lower()}-{title}.jpg", buffer.getvalue(), content_type="image/jpeg")


# --- The plan ----------------------------------------------------------------------------------------------------------
@dataclass
class _Grid:
    pk: int
    code: str
    name: str
    rect: tuple[float, float, float, float]  # west, south, east, north


@dataclass
class _Plan:
    index: int
    at: datetime
    channel: str
    outcome: str
    grid: _Grid
    category: Category
    rng: random.Random
    point: tuple[float, float] = (0.0, 0.0)
    citizen: tuple[str, str, str] = ("", "", "")  # name, phone / openid / email (by channel)
    target: _Plan | None = None  # the case a duplicate repeats
    unstructured: bool = False
    urge: bool = False
    supervise: str = ""  # "", "answered", "open"
    rating: int = 0  # the citizen's rating (0: drawn when the time comes)
    number: str = ""


def _local(day: date, hour: float) -> datetime:
    return timezone.make_aware(datetime(day.year, day.month, day.day)) + timedelta(hours=hour)


class _History:
    """The simulation: plans become generators of moments (``_life``), run in time order from one heap."""

    def __init__(self, *, seed: int, days: int, cases: int, end: datetime, say, progress, written: list[str]):
        self.seed, self.days, self.total, self.say = seed, days, cases, say
        self.progress = progress or (lambda fraction, label: None)
        self.end = end.replace(microsecond=0)
        self.start = _local(timezone.localdate(self.end) - timedelta(days=days), 0)
        self.written = written
        self.result = DemoHistory(days=days, start=self.start, end=self.end)
        self.heap: list[tuple[datetime, int, Iterator]] = []
        self.order = itertools.count()
        self.now = self.start
        self.reported = 0
        self.places: dict[str, tuple[str, str]] = {}  # case number → (level, region code) as last seen

    # --- setup -------------------------------------------------------------------------------------------------------
    def _load_world(self) -> None:
        self.grids = []
        for pk, code, name, boundary in Region.objects.filter(level=Level.GRID).order_by("code").values_list(
                "id", "code", "name", "boundary"):
            ring = boundary["coordinates"][0]
            lngs, lats = [p[0] for p in ring], [p[1] for p in ring]
            self.grids.append(_Grid(pk, code, name, (min(lngs), min(lats), max(lngs), max(lats))))
        self.dispatchers, self.supervisors, self.workers, self.handlers = {}, {}, {}, {}
        self.operator = None
        for assignment in RoleAssignment.objects.select_related("user", "region").order_by("id"):
            role, user = assignment.role, assignment.user
            if role == Role.DISPATCHER:
                self.dispatchers[assignment.region.code] = user
            elif role == Role.SUPERVISOR:
                self.supervisors[assignment.region.code] = user
            elif role == Role.GRID_WORKER:
                self.workers[assignment.region_id] = user
            elif role == Role.HANDLER:
                self.handlers[assignment.department_id] = user
            elif role == Role.OPERATOR and self.operator is None:
                self.operator = user
        self.departments: dict[tuple[str, str], Department] = {}
        for department in Department.objects.select_related("region").filter(active=True).order_by("code"):
            self.departments.setdefault((department.region.code, department.type), department)
        self.city_code = Region.objects.get(level=Level.CITY).code
        self.categories = list(Category.objects.filter(active=True).order_by("code"))
        self.by_code = {c.code: c for c in self.categories}

    def _department_for(self, category: Category, region_code: str, *, wrong: bool = False) -> Department:
        """The department of the category's type nearest the place (street, district, city); with ``wrong``, one of
        another type (a dispatch the department will return)."""
        kind = category.department_type
        if wrong:
            kind = DepartmentType.STREET_OFFICE if kind != DepartmentType.STREET_OFFICE else DepartmentType.SANITATION
        for code in (region_code[:9], region_code[:6], self.city_code):
            department = self.departments.get((code, kind))
            if department is not None:
                return department
        return self.departments[(region_code[:9], DepartmentType.STREET_OFFICE)]

    def _sensors_install(self) -> None:
        self.rules, self.devices = {}, []
        for kind, metric, comparison, threshold, duration, code, _high, _low, name in SENSOR_KINDS:
            self.rules[kind] = SensorRule.objects.create(
                name=name, device_type=kind, metric=metric, comparison=comparison, threshold=threshold,
                duration_seconds=duration, category=self.by_code[code], urgency="urgent",
                verify_on_recovery=kind != "smoke")
        rng = random.Random(f"{self.seed}:sensors")
        streets = sorted({grid.code[:9] for grid in self.grids})
        for n, street in enumerate(streets):
            kind = SENSOR_KINDS[n % len(SENSOR_KINDS)]
            grid = rng.choice([g for g in self.grids if g.code.startswith(street)])
            lat, lng = self._point(grid, rng)
            department = self._department_for(self.by_code[kind[5]], grid.code)
            device, _created, _secret = device_register(
                device_id=f"DEMO-{kind[0].upper()}-{n + 1:03d}", type=kind[0], lat=lat, lng=lng,
                department=department, name=f"{grid.name}{kind[8]}", address=f"{grid.name}")
            self.devices.append([device, kind, 0, None])  # device, kind, last seq, open plan
        self.result.sensors = len(self.devices)

    @staticmethod
    def _point(grid: _Grid, rng: random.Random) -> tuple[float, float]:
        west, south, east, north = grid.rect
        return (round(south + (north - south) * rng.uniform(0.15, 0.85), 7),
                round(west + (east - west) * rng.uniform(0.15, 0.85), 7))

    def _plans(self) -> list[_Plan]:
        """Every case's plan, by report time: volume per day (weekends lower, slowly growing), report times around
        midday, outcomes by weight (one of each first, early on, so that a short history shows every outcome), and
        the open-now plans in the last hours."""
        rng = random.Random(self.seed)
        day_weights = []
        for n in range(self.days):
            day = (self.start + timedelta(days=n, hours=12)).date()
            day_weights.append((0.6 if day.weekday() >= 5 else 1.0) * (0.9 + 0.2 * n / max(1, self.days)))
        open_each = max(2, self.total // 500) if self.total >= 2 * len(OPEN_NOW) else 1
        opened = open_each * len(OPEN_NOW) if self.total >= len(OPEN_NOW) else 0
        history = max(0, self.total - opened)
        scale = sum(day_weights)
        times = []
        for n, weight in enumerate(day_weights):
            day = (self.start + timedelta(days=n, hours=12)).date()
            count = int(history * weight / scale + rng.random())
            for _ in range(count):
                times.append(_local(day, min(23.9, max(0.2, rng.gauss(12.5, 3.8)))))
        times = sorted(t for t in times if t < self.end - timedelta(hours=6))[:history]
        outcomes = list(OUTCOMES)
        forced = [o for o in outcomes if o != "resolved"]  # one of each early on (odd places; resolved between)
        plans = []
        for index, at in enumerate(times):
            prng = random.Random(f"{self.seed}:{index}")
            early = index < 2 * len(forced)
            if early:
                outcome = forced[index // 2] if index % 2 else "resolved"
            else:
                outcome = prng.choices(outcomes, list(OUTCOMES.values()))[0]
            # Between them, resolved cases from every channel, the citizens' ones rated 5, 4, 3, 2 and 1.
            channel = EARLY_CHANNELS[index // 2 % len(EARLY_CHANNELS)] if early and not index % 2 else None
            plan = self._plan(index, at, outcome, prng, short=early, channel=channel)
            if channel in CITIZEN_CHANNELS:
                plan.rating = 5 - index // 2 % 5
            plans.append(plan)
        for n, outcome in enumerate(o for o in OPEN_NOW for _ in range(open_each) if opened):
            index = len(plans)
            prng = random.Random(f"{self.seed}:{index}")
            plans.append(self._plan(index, self.end, outcome, prng, short=True, open_slot=n))
        for plan in plans:  # duplicates repeat an earlier case of the last hours nearby
            if plan.outcome == "duplicate":
                earlier = [p for p in plans if p.at < plan.at - timedelta(minutes=20)
                           and p.at > plan.at - timedelta(hours=8) and p.outcome == "resolved"
                           and p.channel != Channel.SENSOR]
                if earlier:
                    target = plan.rng.choice(earlier)
                    plan.target, plan.grid, plan.category = target, target.grid, target.category
                    plan.point = (round(target.point[0] + plan.rng.uniform(-1, 1) * 1e-5, 7),
                                  round(target.point[1] + plan.rng.uniform(-1, 1) * 1e-5, 7))
                else:
                    plan.outcome = "resolved"
        return sorted(plans, key=lambda p: (p.at, p.index))

    def _plan(self, index: int, at: datetime, outcome: str, rng: random.Random, *, short: bool,
              open_slot: int | None = None, channel: str | None = None) -> _Plan:
        channel = channel or rng.choices(list(CHANNELS), list(CHANNELS.values()))[0]
        if outcome in ("self_handled", "open_awaiting", "open_escalated", "open_returned"):
            channel = Channel.PATROL
        elif outcome in ("rejected", "field_checked", "open_new", "reopened", "duplicate"):
            channel = rng.choice(CITIZEN_CHANNELS[:2]) if outcome != "reopened" else rng.choice(CITIZEN_CHANNELS)
        elif outcome in ("open_yellow", "open_red") or (channel == Channel.SENSOR and outcome != "resolved"):
            channel = rng.choice((Channel.PATROL, Channel.HOTLINE))
        grid = rng.choice(self.grids)
        categories = self.categories
        if outcome in ("open_yellow", "open_red"):
            hours = 4 if outcome == "open_yellow" else 2
            categories = [c for c in categories if c.limit_unit == LimitUnit.URGENT_HOUR and c.handling_limit == hours]
        elif short:  # a life that fits in a few days
            categories = [c for c in categories if c.limit_unit in (LimitUnit.URGENT_HOUR, LimitUnit.WORK_HOUR)
                          or c.handling_limit <= 1]
        plan = _Plan(index=index, at=at, channel=channel, outcome=outcome, grid=grid, category=rng.choice(categories),
                     rng=rng)
        plan.point = self._point(grid, rng)
        surname, given = rng.choice(SURNAMES), "".join(rng.choices(GIVEN, k=rng.choice((1, 2))))
        citizen = rng.randrange(max(50, self.total // 3))  # some citizens report again
        if channel == Channel.HOTLINE:
            plan.citizen = (surname + given, f"13{citizen % 10}{citizen:08d}"[:11], "")
        elif channel == Channel.WECHAT:
            plan.citizen = ("", f"oDemo{self.seed}x{citizen:06d}", "")
            plan.unstructured = outcome == "resolved" and rng.random() < 0.25
        elif channel == Channel.OPEN311:
            plan.citizen = (surname + given, "", f"user{citizen}@example.com")
        if outcome in ("resolved", "late", "extended", "returned", "reworked") and rng.random() < 0.12:
            plan.urge = True
        if outcome in ("resolved", "late", "escalated_twice") and rng.random() < 0.06:
            plan.supervise = "answered"
        if open_slot is not None:
            plan.at = self._open_start(plan)
        return plan

    def _open_start(self, plan: _Plan) -> datetime:
        """When an open-now plan starts: late enough to still be open at the end, early enough to reach its stage."""
        rng, end = plan.rng, self.end
        limit = limit_for(stage="handle", category=plan.category, urgency=plan.category.default_urgency)
        hours = float(limit.amount)
        if plan.outcome == "open_yellow":  # signed about 0.88 of the limit before the end (80–100 %: yellow)
            return end - timedelta(hours=hours * 0.88, minutes=25)
        if plan.outcome == "open_red":  # street, district and city limits all run out before the end
            return end - timedelta(hours=3 * hours + 3 * SWEEP_GAP_HOURS + 2)
        if plan.outcome == "open_new":
            return end - timedelta(minutes=rng.uniform(5, 40))
        return end - timedelta(hours=rng.uniform(2.5, 5))

    # --- the engine --------------------------------------------------------------------------------------------------
    def _push(self, when: datetime, life: Iterator) -> None:
        when = max(when, self.now)
        if when <= self.end:
            heapq.heappush(self.heap, (when, next(self.order), life))

    def _sweeps(self) -> Iterator[datetime]:
        day = self.start.date()
        while True:
            for hour in SWEEP_HOURS:
                yield _local(day, hour)
                sweep()
            day += timedelta(days=1)

    def run(self) -> DemoHistory:
        try:
            return self._run()
        except BaseException:
            # Every photo so far is this history's (it starts with no cases): name them before the rollback, for
            # demo_city_make to delete the files.
            with contextlib.suppress(Exception), transaction.atomic():
                self.written.extend(Attachment.objects.values_list("file", flat=True))
            raise

    def _run(self) -> DemoHistory:
        started = time.perf_counter()
        with time_machine.travel(self.start, tick=False) as traveller:
            self.say("history: staff, places, sensors and the Open311 app")
            self._load_world()
            self._sensors_install()
            _key, self.open311_key = open311_key_create(name="示范市随手拍 App")
            plans = self._plans()
            self.say(f"history: {len(plans):,} case plans over {self.days} days up to "
                     f"{timezone.localtime(self.end):%Y-%m-%d %H:%M}")
            for plan in plans:
                self._push(plan.at, self._life(plan))
            sweeps = self._sweeps()
            self._push(next(sweeps), sweeps)
            span = (self.end - self.start).total_seconds()
            shown = -1.0
            while self.heap:
                when, _order, life = heapq.heappop(self.heap)
                self.now = when
                traveller.move_to(when)
                try:
                    following = next(life)
                except StopIteration:
                    continue
                self._push(following, life)
                fraction = (when - self.start).total_seconds() / span
                if fraction - shown >= 0.005:
                    shown = fraction
                    self.progress(fraction * 0.95, f"{timezone.localtime(when):%m-%d} {self.reported:,} cases")
            traveller.move_to(self.end)
            self.now = self.end
            sweep()
            self._finish()
        self.result.seconds = time.perf_counter() - started
        return self.result

    def _finish(self) -> None:
        self.progress(0.95, "rollups")
        self.say("rollups: counting the indicators of every case")
        rollups_rebuild()
        self.progress(0.98, "league tables")
        month = self.start.date().replace(day=1)
        last = timezone.localdate(self.end).replace(day=1)
        tables = 0
        while month <= last:
            tables += len(league_tables_compute(month=month))
            month = (month + timedelta(days=32)).replace(day=1)
        self.say(f"league tables: {tables} (every month of the history); district briefings of yesterday")
        briefings_for_districts(day=timezone.localdate(self.end) - timedelta(days=1))
        result = self.result
        result.league_tables = tables
        cases = Case.objects.all()
        result.cases = cases.count()
        result.events = CaseEvent.objects.count()
        result.photos = Attachment.objects.count()
        result.supervision_orders = SupervisionOrder.objects.count()
        result.escalations = CaseEvent.objects.filter(kind="escalate").count()
        result.by_state = dict(Counter(cases.values_list("state", flat=True)))
        result.by_channel = dict(Counter(cases.values_list("channel", flat=True)))
        self.progress(1.0, f"{result.cases:,} cases")

    # --- acting ------------------------------------------------------------------------------------------------------
    def act(self, number: str, action: str, actor: Actor | None, **inputs) -> Case | None:
        """``case_act``; ``actor`` None: the dispatcher of the center owning the case now (as last seen; read again
        when that is refused — the sweep may have escalated it since). A refusal is recorded and gives None."""
        for fresh in (False, True):
            who = actor
            if actor is None:
                if fresh or number not in self.places:
                    self.places[number] = Case.objects.filter(number=number).values_list("level", "region_code").get()
                level, code = self.places[number]
                who = Actor.staff(self.dispatchers[{CommandLevel.STREET: code[:9], CommandLevel.DISTRICT: code[:6]}
                                                   .get(level, code[:4] + "00")])
            try:
                case = case_act(case=number, action=action, actor=who, inputs=inputs)
            except PermissionDenied as exc:
                if actor is None and not fresh:
                    continue
                self.result.skipped.append(f"{number} {action}: {exc.message}")
                return None
            except DomainError as exc:
                self.result.skipped.append(f"{number} {action}: {exc.message}")
                return None
            self.places[number] = (case.level, case.region_code)
            return case
        return None

    def photo(self, label: str, title: str, plan: _Plan) -> SimpleUploadedFile:
        return demo_photo(label, title, self.now, plan.index + len(label))

    def _state(self, number: str) -> tuple[str, str, str]:
        return Case.objects.filter(number=number).values_list("state", "level", "region_code").get()

    def dispatcher(self, number: str) -> None:
        """The dispatcher of the center that owns the case, found when acting (``act``)."""
        return None

    def supervisor(self, plan: _Plan) -> Actor:
        user = self.supervisors.get(plan.grid.code[:6]) if plan.rng.random() < 0.7 else None
        return Actor.staff(user or self.supervisors[self.city_code])

    def handler(self, case: Case) -> Actor:
        return Actor.staff(self.handlers[case.department_id])

    def worker(self, case: Case) -> Actor:
        return Actor.staff(self.workers[case.grid_id])

    def due(self, case: Case, fraction: float, *, office: bool = True, at_least: float = 3) -> datetime:
        """The moment ``fraction`` of the case's running stage clock has passed (night steps of staff move to the
        morning when that is still before the deadline)."""
        clocks = getattr(case, "_prefetched_objects_cache", {}).get("clocks")
        clocks = list(clocks) if clocks is not None else list(
            StageClock.objects.filter(case_id=case.pk, finished_at__isnull=True))
        stage = STAGE_OF_STATE.get(case.state)
        running = [c for c in clocks if c.finished_at is None and c.stage == stage]
        earliest = self.now + timedelta(minutes=at_least)
        if not running:
            return earliest + timedelta(hours=1)
        clock = max(running, key=lambda c: (c.started_at, c.pk))
        when = clock.started_at + (clock.deadline - clock.started_at) * fraction
        if office:
            local = timezone.localtime(when)
            if local.hour < 7 or local.hour >= 22:
                morning = _local((local - timedelta(hours=7)).date() + timedelta(days=1), 7.5 + fraction)
                if morning < clock.deadline or fraction > 1:
                    when = morning
        return max(when, earliest)

    def minutes(self, low: float, high: float, plan: _Plan) -> datetime:
        return self.now + timedelta(minutes=plan.rng.uniform(low, high))

    # --- one case's life ---------------------------------------------------------------------------------------------
    def _report(self, plan: _Plan) -> Case | None:
        rng, grid, category = plan.rng, plan.grid, plan.category
        lat, lng = plan.point
        place = f"{grid.name[:-5]}{rng.randint(1, 60)}{rng.choice(PLACES)}"
        description = f"{place}{category.minor_name}问题，{rng.choice(DETAILS)}。"
        name, contact, email = plan.citizen
        if plan.channel == Channel.PATROL:
            worker = self.workers[grid.pk]
            self_handled = plan.outcome == "self_handled"
            data = ReportInput(channel=Channel.PATROL, description=description, lat=lat, lng=lng, address=place,
                               category=category, self_handled=self_handled)
            if self_handled:
                data.before_photos = [self.photo("BEFORE", grid.code, plan)]
                data.after_photos = [self.photo("AFTER", grid.code, plan)]
            else:
                data.photos = [self.photo("REPORT", grid.code, plan)]
            case, _created = case_report(actor=Actor.staff(worker), data=data)
        elif plan.channel == Channel.HOTLINE:
            data = ReportInput(channel=Channel.HOTLINE, description=description, lat=lat, lng=lng, address=place,
                               category=category if rng.random() < 0.5 else None, citizen_name=name,
                               citizen_phone=contact)
            case, _created = case_report(actor=Actor.staff(self.operator), data=data)
        elif plan.channel == Channel.WECHAT and plan.unstructured:
            msg_id = f"{70000000 + plan.index}"
            message_receive(Inbound({"ToUserName": "gh_demo", "FromUserName": contact, "MsgType": "text",
                                     "CreateTime": str(int(self.now.timestamp())), "MsgId": msg_id,
                                     "Content": description}))
            case = WeChatMessage.objects.get(dedupe_key=f"msg:{msg_id}").case
        elif plan.channel == Channel.WECHAT:
            data = ReportInput(channel=Channel.WECHAT, description=description, lat=lat, lng=lng, address=place,
                               citizen_openid=contact, raw_payload={"wechat": {"lat": lat, "lng": lng}})
            case, _created = case_report(actor=Actor.citizen(citizen_key(openid=contact)), data=data)
        elif plan.channel == Channel.OPEN311:
            case = open311_request_submit(api_key=self.open311_key, form={
                "service_code": category.code, "lat": str(lat), "long": str(lng), "description": description,
                "address_string": place, "email": email, "first_name": name[1:], "last_name": name[:1],
            }).case
        else:
            case = self._sensor_alarm(plan)
        if case is not None:
            plan.number = case.number
            self.places[case.number] = (case.level, case.region_code)
            self.result.outcomes[plan.outcome] += 1
            self.reported += 1
        return case

    def _sensor_alarm(self, plan: _Plan) -> Case | None:
        """Readings past the rule's threshold from the first idle sensor (turning round the list): the rule opens
        the case. None when every sensor already has an open case."""
        for entry in sorted(self.devices, key=lambda e: e[2]):
            if entry[3] is None:
                break
        else:
            return None
        device, kind, _seq, _open = entry
        rule = self.rules[kind[0]]
        readings = []
        for minutes_before in (12, 6, 0):
            entry[2] += 1
            readings.append({"device_id": device.device_id, "seq": entry[2], "metric": kind[1],
                             "ts": (self.now - timedelta(minutes=minutes_before)).isoformat(),
                             "value": kind[6], "alarm": kind[0] == "smoke"})
        sensor_events_ingest(events=readings, source="http")
        state = SensorRuleState.objects.filter(device=device, rule=rule).select_related("case").first()
        if state is None or state.case is None or state.case.state != CaseState.REPORTED:
            return None
        entry[3] = plan
        plan.grid = next(g for g in self.grids if g.pk == device.grid_id)
        plan.category = rule.category
        return state.case

    def _sensor_recovered(self, plan: _Plan) -> None:
        for entry in self.devices:
            if entry[3] is plan:
                entry[2] += 1
                device, kind = entry[0], entry[1]
                sensor_events_ingest(events=[{"device_id": device.device_id, "seq": entry[2], "metric": kind[1],
                                              "ts": self.now.isoformat(), "value": kind[7]}], source="http")
                entry[3] = None

    def _life(self, plan: _Plan) -> Iterator[datetime]:  # noqa: C901 — one plan, step by step
        rng, outcome = plan.rng, plan.outcome
        opened = outcome.startswith("open_")
        fast = opened  # open-now plans move in minutes, so they reach their stage before the end

        def on_time():
            return rng.uniform(0.08, 0.7)

        case = self._report(plan)
        if case is None:
            return
        number = case.number
        # 受理: citizen and sensor reports wait for a dispatcher (patrol reports are accepted on filing)
        if case.state == CaseState.REPORTED:
            if outcome == "open_new":
                return
            if outcome == "self_handled":
                yield self.due(case, on_time())
                self.act(number, "confirm_self_handled", self.dispatcher(number), note="网格员已现场处置，确认结案")
                return
            if outcome == "field_checked":
                yield self.due(case, rng.uniform(0.05, 0.2))
                if self.act(number, "request_field_check", self.dispatcher(number), note="请网格员现场核实") is None:
                    return
                yield self.minutes(20, 90, plan)
                case = self.act(number, "field_check", self.worker(case), result="confirmed",
                                photos=[self.photo("CHECK", number, plan)])
                if case is None:
                    return
            yield self.minutes(3, 15, plan) if fast else self.due(case, on_time())
            if outcome == "rejected":
                self.act(number, "reject", self.dispatcher(number), reason=rng.choice(REJECT_REASONS))
                return
            if outcome == "duplicate" and plan.target is not None and plan.target.number and self._state(
                    plan.target.number)[0] in (CaseState.REPORTED, CaseState.ACCEPTED, CaseState.DISPATCHED,
                                               CaseState.HANDLING):
                self.act(number, "merge", self.dispatcher(number), target=plan.target.number)
                return
            inputs = {"category": plan.category}
            if case.unstructured:
                inputs.update(lat=plan.point[0], lng=plan.point[1], address=f"{plan.grid.name}附近")
            case = self.act(number, "accept", self.dispatcher(number), **inputs)
            if case is None:
                return
        elif outcome == "duplicate" and plan.target is not None and plan.target.number:
            yield self.due(case, on_time())
            if self.act(number, "merge", self.dispatcher(number), target=plan.target.number) is not None:
                return
        if outcome == "open_awaiting":
            return
        # 派遣
        if outcome in ("escalated", "open_escalated"):
            yield self.minutes(10, 40, plan) if fast else self.due(case, on_time())
            case = self.act(number, "escalate", self.dispatcher(number), reason=rng.choice(ESCALATE_REASONS))
            if case is None or outcome == "open_escalated":
                return
        late = rng.choice(("dispatch", "sign", "handle", "handle", "handle", "verify")) if outcome == "late" else ""

        def step(stage: str, case: Case) -> datetime:
            if fast:
                return self.minutes(4, 12, plan)
            return self.due(case, rng.uniform(1.15, 1.7) if stage == late else on_time(), office=stage != late)

        yield step("dispatch", case)
        wrong = outcome in ("returned", "open_returned")
        department = self._department_for(plan.category, case.region_code, wrong=wrong)
        case = self.act(number, "dispatch", self.dispatcher(number), department=department.code)
        if case is None:
            return
        if outcome == "open_dispatched":
            return
        if wrong:
            yield step("sign", case)
            right = self._department_for(plan.category, case.region_code)
            case = self.act(number, "return", self.handler(case),
                            reason=rng.choice(RETURN_REASONS).format(dept=right.name))
            if case is None or outcome == "open_returned":
                return
            yield step("dispatch", case)
            case = self.act(number, "dispatch", self.dispatcher(number), department=right.code)
            if case is None:
                return
        yield step("sign", case)
        case = self.act(number, "sign", self.handler(case))
        if case is None:
            return
        if outcome in ("open_handling", "open_yellow", "open_red"):
            if outcome == "open_red":  # 超期督办 while it waits at the city center
                yield self.end - timedelta(minutes=rng.uniform(5, 60))
                self.act(number, "supervise", Actor.staff(self.supervisors[self.city_code]), type="overdue",
                         note=rng.choice(SUPERVISE_NOTES), reply_due=self.now + timedelta(days=1))
            return
        # 处置
        case = yield from self._handle(plan, case, step)
        if case is None or outcome in ("open_suspended", "open_extension", "open_supervised"):
            return
        if plan.channel == Channel.SENSOR:
            yield self.minutes(20, 120, plan)
            self._sensor_recovered(plan)
        if outcome == "open_handled":
            return
        # 核查 (and 返工)
        reworks = 1 if outcome == "reworked" else 0
        while True:
            yield step("verify", case)
            if reworks:
                reworks -= 1
                case = self.act(number, "rework", self.worker(case), reason=rng.choice(REWORK_REASONS))
                if case is None:
                    return
                yield self.due(case, on_time())
                case = self.act(number, "complete", self.handler(case), note="已按要求重新处置",
                                photos=[self.photo("AFTER", number, plan)])
                if case is None:
                    return
                continue
            case = self.act(number, "verify", self.worker(case), photos=[self.photo("CHECK", number, plan)])
            if case is None or outcome == "open_verified":
                return
            break
        # 回访 / 结案, and 重新办理 after a bad rating
        rating = rng.choice((1, 2, 3)) if outcome == "reopened" else plan.rating or rng.choice(RATINGS)
        yield self.minutes(10, 60, plan) if fast else self.due(case, rng.uniform(0.05, 0.4), at_least=10)
        if not self._close(plan, case, rating):
            return
        if outcome != "reopened":
            return
        yield self.now + timedelta(hours=rng.uniform(4, 30))
        case = self.act(number, "reopen", self.supervisor(plan), reason="回访不满意，重新办理")
        if case is None:
            return
        yield self.due(case, on_time())
        case = self.act(number, "complete", self.handler(case), note="已重新处置并与反映人沟通",
                        photos=[self.photo("AFTER", number, plan)])
        if case is None:
            return
        yield self.due(case, on_time())
        case = self.act(number, "verify", self.worker(case), photos=[self.photo("CHECK", number, plan)])
        if case is None:
            return
        yield self.due(case, rng.uniform(0.05, 0.4), at_least=10)
        self._close(plan, case, rng.choice((4, 5)))

    def _close(self, plan: _Plan, case: Case, rating: int) -> bool:
        number, rng = case.number, plan.rng
        comment = rng.choice(COMMENTS[rating])
        if case.citizen_key:
            if plan.channel == Channel.HOTLINE or rng.random() < 0.2:  # the operator calls back (回访)
                actor = Actor.staff(self.operator)
            else:
                actor = Actor.citizen(case.citizen_key)
            return self.act(number, "feedback", actor, rating=rating, comment=comment) is not None
        return self.act(number, "close", self.dispatcher(number), note="核查通过，结案") is not None

    def _handle(self, plan: _Plan, case: Case, step) -> Iterator[datetime]:
        """From signing to 处置完成: urges, supervision orders, extensions, suspensions, cancellation on the way.
        Returns the case once completed, or None when a step was refused or the plan stops before."""
        rng, outcome, number = plan.rng, plan.outcome, case.number
        fast = outcome.startswith("open_")
        if plan.urge:
            yield self.due(case, rng.uniform(0.3, 0.6))
            self.act(number, "urge", self.supervisor(plan), note=rng.choice(URGE_NOTES))
        if plan.supervise or outcome == "open_supervised":
            yield self.minutes(5, 30, plan) if fast else self.due(case, rng.uniform(0.2, 0.5))
            supervisor = self.supervisor(plan)
            if self.act(number, "supervise", supervisor, type=rng.choice(("leader", "key_case", "overdue")),
                        note=rng.choice(SUPERVISE_NOTES), reply_due=self.now + timedelta(days=2)) is None:
                return None
            if outcome == "open_supervised":
                return None
            yield self.now + timedelta(hours=rng.uniform(1, 20))
            order = SupervisionOrder.objects.filter(case_id=case.pk).latest("id")
            try:
                supervision_reply(order_id=order.pk, user=self.handlers[case.department_id],
                                  text=rng.choice(REPLIES))
            except DomainError as exc:
                self.result.skipped.append(f"{number} supervision_reply: {exc.message}")
        if outcome == "cancelled":
            yield self.due(case, rng.uniform(0.2, 0.6))
            self.act(number, "cancel", self.supervisor(plan), reason=rng.choice(CANCEL_REASONS))
            return None
        if outcome in ("extended", "extension_denied", "open_extension"):
            yield self.minutes(10, 30, plan) if fast else self.due(case, rng.uniform(0.4, 0.7))
            if self.act(number, "request_extension", self.handler(case),
                        reason=rng.choice(EXTENSION_REASONS)) is None or outcome == "open_extension":
                return None
            yield self.now + timedelta(minutes=rng.uniform(20, 120))
            if outcome == "extended":
                decided = self.act(number, "approve_extension", self.dispatcher(number), note="同意延期")
            else:
                decided = self.act(number, "deny_extension", self.dispatcher(number), reason="可在时限内完成，不予延期")
            case = decided or case
        if outcome in ("suspended", "open_suspended"):
            yield self.minutes(10, 30, plan) if fast else self.due(case, rng.uniform(0.2, 0.5))
            until = self.now + timedelta(days=rng.uniform(1.5, 5))
            if self.act(number, "suspend", self.dispatcher(number), reason=rng.choice(SUSPEND_REASONS),
                        until=until) is None or outcome == "open_suspended":
                return None
            yield until + timedelta(hours=rng.uniform(3, 20))  # the sweep resumes it on the date
            if self._state(number)[0] == CaseState.SUSPENDED:
                self.act(number, "resume", self.dispatcher(number), note="条件具备，恢复处置")
            case = Case.objects.get(number=number)
        if outcome == "escalated_twice":
            when = self.due(case, 3.4, office=False)  # street, district and city clocks all run out on the way
        elif outcome == "open_handled":
            when = self.minutes(10, 30, plan)
        else:
            when = step("handle", case)
        yield when
        return self.act(number, "complete", self.handler(case), note="已处置完毕，现场已恢复",
                        photos=[self.photo("AFTER", number, plan)])

