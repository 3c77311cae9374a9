"""Gridloop settings: one module, every deployment difference read from the environment.

Embedded default (nothing set): SQLite in ./var, media in ./var/media, a Celery broker on the local filesystem.
Production (``GRIDLOOP_PRODUCTION=1``): ``SECRET_KEY``, ``ALLOWED_HOSTS`` and ``DATABASE_URL`` are required and the
HTTPS hardening is on; ``CELERY_BROKER_URL`` points at Redis (or RabbitMQ). See README "Production".
"""

import json
import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("GRIDLOOP_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


PRODUCTION = env_bool("GRIDLOOP_PRODUCTION", False)
DEBUG = env_bool("DJANGO_DEBUG", False)


def _secret_key() -> str:
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set in the environment when GRIDLOOP_PRODUCTION=1.")
    # Embedded default: a random key kept beside the SQLite database, made on first start.
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()

if PRODUCTION and not os.environ.get("ALLOWED_HOSTS"):
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set (comma separated) when GRIDLOOP_PRODUCTION=1.")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
    "csp",
    "grids",
    "events",
    "dispatch",
    "web",
    *env_list("GRIDLOOP_EXTRA_APPS", []),  # e.g. bench.bare for the intake benchmark's baseline
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.RequestGuard",  # NUL bytes, oversized bodies, the database down: clean 4xx/503 answers
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a lockout into the lockout page / 429
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "web.context.shell",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------------------------
if PRODUCTION and not os.environ.get("DATABASE_URL"):
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL when GRIDLOOP_PRODUCTION=1.")
DATABASES = {
    "default": dj_database_url.config(
        env="DATABASE_URL",
        default=f"sqlite:///{VAR_DIR / 'gridloop.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "600")),  # (kept: prepared statements live with it)
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (web, worker, beat) share the file: wait for locks instead of failing at once.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("TEST", {})["NAME"] = ""  # in-memory for the test suite
    # The console's covering indexes (INCLUDE columns) are a PostgreSQL refinement; SQLite builds them without the
    # extra columns, which is right for the embedded default — not worth a warning on every start.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
else:
    DATABASES["default"].setdefault("TEST", {})["NAME"] = os.environ.get("TEST_DATABASE_NAME") or None
    if os.environ.get("DB_SERVER_SIDE_BINDING", "1") == "1":
        # Parameters bound by the server, so psycopg prepares a statement at its second use on a connection and
        # PostgreSQL stops planning it again: a case read joins up to seven tables, and planning them cost more
        # than running them (about 1–2.5 ms a query here). Needs persistent connections (DB_CONN_MAX_AGE) and no
        # transaction-mode pooler in between (PgBouncer < 1.21 does not keep prepared statements).
        DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=1)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "grids.User"
# django-axes counts failed sign-ins on every path that calls authenticate() (the pages' /login/, the admin's login,
# the API's token endpoint): 5 failures lock that username from that address for 15 minutes. Locks are listed and
# released in the admin (Axes → access attempts / lockouts) or with `manage.py axes_reset_username NAME`.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = int(os.environ.get("GRIDLOOP_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("GRIDLOOP_LOGIN_LOCK_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "web/auth/locked.html"
AXES_IPWARE_PROXY_COUNT = int(os.environ.get("GRIDLOOP_PROXY_COUNT", "0"))
AXES_VERBOSE = False
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:landing"
LOGOUT_REDIRECT_URL = "web:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Language and time: Chinese first, English available; UTC in storage, Asia/Shanghai for display ---------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Asia/Shanghai"
USE_TZ = True

# --- Static and media --------------------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": os.environ.get("MEDIA_STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage")},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage" if PRODUCTION
                    else "django.contrib.staticfiles.storage.StaticFilesStorage"},
    # The event log's daily anchors (events.anchors): append-only, outside the database. Another backend (an object
    # store) takes its options from GRIDLOOP_ANCHOR_STORAGE_OPTIONS (JSON).
    "anchors": {"BACKEND": os.environ.get("GRIDLOOP_ANCHOR_STORAGE_BACKEND",
                                          "django.core.files.storage.FileSystemStorage"),
                "OPTIONS": json.loads(os.environ["GRIDLOOP_ANCHOR_STORAGE_OPTIONS"])
                if os.environ.get("GRIDLOOP_ANCHOR_STORAGE_OPTIONS") else {"location": str(VAR_DIR / "anchors")}},
}
WHITENOISE_USE_FINDERS = not PRODUCTION
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)

# --- Security (on by default in production; each can be overridden by the environment) ---------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", PRODUCTION)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", PRODUCTION)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", PRODUCTION)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", 31536000 if PRODUCTION else 0))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", PRODUCTION)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", PRODUCTION)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# A strict Content-Security-Policy on every response (django-csp): scripts and styles only from our own origin (no
# inline scripts or styles, no eval), images also as data:/blob: (photos previewed before upload), map tiles only
# from the operator's tile server when one is set.
# Base map tiles (web/static/web/map.js): none unless set, e.g. https://tiles.example.cn/{z}/{x}/{y}.png, with the
# attribution its licence asks for. Coordinates are WGS84 throughout; see README ("Maps") on GCJ-02 tile services.
GRIDLOOP_MAP_TILE_URL = os.environ.get("GRIDLOOP_MAP_TILE_URL", "")
GRIDLOOP_MAP_TILE_ATTRIBUTION = os.environ.get("GRIDLOOP_MAP_TILE_ATTRIBUTION", "")
_tile_origin = GRIDLOOP_MAP_TILE_URL.split("/{", 1)[0]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "blob:", *([_tile_origin] if _tile_origin else [])],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "manifest-src": ["'self'"],
        "worker-src": ["'self'"],
    },
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# A request body larger than this is refused on its Content-Length before any of it is read (9 photos of 10 MB fit).
GRIDLOOP_MAX_REQUEST_BYTES = int(os.environ.get("GRIDLOOP_MAX_REQUEST_BYTES", 100 * 1024 * 1024))

# An API token lives this long after its last use (sliding); a logout, a password change or a deactivation ends it.
GRIDLOOP_API_TOKEN_TTL_HOURS = float(os.environ.get("GRIDLOOP_API_TOKEN_TTL_HOURS", "12"))

# --- API -------------------------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "config.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "config.api.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "DEFAULT_PARSER_CLASSES": ["config.parsers.JSONParser", "rest_framework.parsers.FormParser",
                               "rest_framework.parsers.MultiPartParser"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Gridloop API",
    "DESCRIPTION": "Grid event workflow engine for city governance (数字城管 / 网格化管理 / 12345).",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "ENUM_NAME_OVERRIDES": {
        "DepartmentTypeEnum": "grids.models.DepartmentType",
        "LevelEnum": "grids.models.Level",
    },
    # Swagger UI served from our own static files (no CDN): the app works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Cache: what several web processes must share (WeChat nonces, rate limits): Redis in production ----------------
# GRIDLOOP_CACHE_URL=redis://host:6379/1; default: memory of each process (right for the embedded single process).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                      "LOCATION": os.environ["GRIDLOOP_CACHE_URL"]} if os.environ.get("GRIDLOOP_CACHE_URL")
          else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery: the same task code everywhere; only the broker differs --------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = VAR_DIR / "broker"
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "heartbeat": {"task": "dispatch.heartbeat", "schedule": 30.0},
    "outbox-relay": {"task": "dispatch.relay", "schedule": 5.0},
    "sla-sweep": {"task": "dispatch.sweep", "schedule": 5.0},
    "evaluation-rollups": {"task": "dispatch.rollups", "schedule": 10.0},  # new case events into the rollups
    "daily-briefings": {"task": "dispatch.daily_briefings", "schedule": crontab(hour=6, minute=30)},  # every district
    "league-tables": {"task": "dispatch.league_tables", "schedule": crontab(hour=3, minute=0, day_of_month=1)},
    "sensor-alarms": {"task": "events.sensor_alarms", "schedule": 30.0},  # alarms a crash left unprocessed
    "sensor-purge": {"task": "events.sensor_purge", "schedule": 3600.0},  # raw readings past their retention
    "wechat-sweep": {"task": "events.wechat_sweep", "schedule": 60.0},  # expired drafts, photos still to fetch
    "event-anchors": {"task": "events.anchor_chains", "schedule": crontab(hour=0, minute=10)},  # the day's anchor
}

# --- Gridloop --------------------------------------------------------------------------------------------------------
# The performance layer (config/fastpath.py: compiled queries, row writes from prepared SQL, bulk rows from typed
# arrays). 0 = the plain ORM path everywhere (same results, slower): for ruling it out when something looks wrong.
GRIDLOOP_COMPILED_QUERIES = env_bool("GRIDLOOP_COMPILED_QUERIES", True)
# How often a process checks whether grid boundaries changed elsewhere (another process imported regions).
GRIDLOOP_GRID_INDEX_CHECK_SECONDS = float(os.environ.get("GRIDLOOP_GRID_INDEX_CHECK_SECONDS", "5"))
# How often a process re-reads the SLA policies, the sensor rules and devices, and checks the calendar overrides'
# version (changes made by another process take effect within this many seconds; the process making them sees them
# at once).
GRIDLOOP_CONFIG_CHECK_SECONDS = float(os.environ.get("GRIDLOOP_CONFIG_CHECK_SECONDS", "5"))

GRIDLOOP_PHOTO_MAX_BYTES = int(os.environ.get("GRIDLOOP_PHOTO_MAX_BYTES", 10 * 1024 * 1024))
# Field app (web/field.py): above this GPS accuracy (m) the grid worker places the pin on the map; a check made
# farther than GRIDLOOP_FIELD_FAR_M from the case's point is warned about
GRIDLOOP_FIELD_PIN_THRESHOLD_M = int(os.environ.get("GRIDLOOP_FIELD_PIN_THRESHOLD_M", "50"))
GRIDLOOP_FIELD_FAR_M = int(os.environ.get("GRIDLOOP_FIELD_FAR_M", "200"))
# Reports filed by grid workers are accepted on filing (立案) by rule; hotline/web reports wait for a dispatcher.
GRIDLOOP_AUTO_ACCEPT_PATROL = env_bool("GRIDLOOP_AUTO_ACCEPT_PATROL", True)
# A citizen may rate within this many hours of the on-site check; after it a dispatcher may close without feedback.
GRIDLOOP_FEEDBACK_WINDOW_HOURS = int(os.environ.get("GRIDLOOP_FEEDBACK_WINDOW_HOURS", "72"))
# What an escalation (by the sweep at a breach, or by hand) does, per level it goes to: "take_over" (the upper center
# owns the case; the lower one can no longer act) or "supervise" (the upper center watches, coordinates and may act as
# its dispatcher; the lower one stays responsible). "level:policy" comma separated, e.g. "district:supervise".
GRIDLOOP_ESCALATION_POLICY = {"district": "take_over", "city": "take_over"}
for _item in env_list("GRIDLOOP_ESCALATION_POLICY", []):
    _level, _sep, _policy = _item.partition(":")
    if _level.strip() not in GRIDLOOP_ESCALATION_POLICY or _policy.strip() not in ("take_over", "supervise"):
        raise ImproperlyConfigured(f"GRIDLOOP_ESCALATION_POLICY: {_item!r} is not district|city:take_over|supervise")
    GRIDLOOP_ESCALATION_POLICY[_level.strip()] = _policy.strip()
# The Ed25519 key that signs the event log's daily anchors (events.anchors), kept outside the database: the private key
# (PEM, or the base64 of its 32-byte seed) in GRIDLOOP_ANCHOR_KEY, or in the file GRIDLOOP_ANCHOR_KEY_FILE. Embedded
# default: a key generated on first use in var/anchor_key (in production give every machine the same key).
GRIDLOOP_ANCHOR_KEY = os.environ.get("GRIDLOOP_ANCHOR_KEY", "")
GRIDLOOP_ANCHOR_KEY_FILE = os.environ.get("GRIDLOOP_ANCHOR_KEY_FILE", "") or str(VAR_DIR / "anchor_key")
GRIDLOOP_ANCHOR_KEY_GENERATE = not GRIDLOOP_ANCHOR_KEY and not os.environ.get("GRIDLOOP_ANCHOR_KEY_FILE")
# A supervisor may reopen a case after dissatisfied feedback (rating 1–3) within this many days of closure.
GRIDLOOP_REOPEN_WINDOW_DAYS = int(os.environ.get("GRIDLOOP_REOPEN_WINDOW_DAYS", "30"))
# Duplicate detection for reports without a category (categories carry their own radius and window).
GRIDLOOP_DUPLICATE_RADIUS_M = int(os.environ.get("GRIDLOOP_DUPLICATE_RADIUS_M", "100"))
GRIDLOOP_DUPLICATE_WINDOW_HOURS = int(os.environ.get("GRIDLOOP_DUPLICATE_WINDOW_HOURS", "72"))
# Working windows for 工作时 / 工作日 limits, local time (TIME_ZONE), "HH:MM-HH:MM" comma separated, in order.
GRIDLOOP_WORK_WINDOWS = os.environ.get("GRIDLOOP_WORK_WINDOWS", "08:30-12:00,13:30-17:30")
# The SLA sweep: at most this many due clocks per pass, in transactions of this many clocks each.
GRIDLOOP_SWEEP_MAX_ROWS = int(os.environ.get("GRIDLOOP_SWEEP_MAX_ROWS", "20000"))
GRIDLOOP_SWEEP_BATCH_SIZE = int(os.environ.get("GRIDLOOP_SWEEP_BATCH_SIZE", "1000"))
# Notification outbox: a delivery failing this many times is parked for an admin (never dropped).
GRIDLOOP_OUTBOX_MAX_ATTEMPTS = int(os.environ.get("GRIDLOOP_OUTBOX_MAX_ATTEMPTS", "8"))
# A relay claims due rows for this long and renews the lease every third of it while it sends; a relay that dies
# mid-batch leaves them to the next one within this time. Keep it well above GRIDLOOP_OUTBOX_HTTP_TIMEOUT_SECONDS.
GRIDLOOP_OUTBOX_LEASE_SECONDS = int(os.environ.get("GRIDLOOP_OUTBOX_LEASE_SECONDS", "30"))
GRIDLOOP_OUTBOX_HTTP_TIMEOUT_SECONDS = float(os.environ.get("GRIDLOOP_OUTBOX_HTTP_TIMEOUT_SECONDS", "5"))
# Base URLs of the WeChat message API (customer-service messages) and the SMS gateway; empty = channel disabled
# (its messages are parked with a clear error).
GRIDLOOP_WECHAT_API_BASE = os.environ.get("GRIDLOOP_WECHAT_API_BASE", "")
GRIDLOOP_SMS_API_BASE = os.environ.get("GRIDLOOP_SMS_API_BASE", "")
# Open311 GeoReport v2 (/open311/v2/): the channels whose cases GET requests and the update feed publish (comma
# separated; default: only the requests that came in through Open311 — staff and hotline reports stay internal);
# "realtime" (POST answers the case number) or "batch" (POST answers a token, exchanged at tokens/{token});
# and the contact and key-request lines of the discovery document.
GRIDLOOP_OPEN311_PUBLIC_CHANNELS = env_list("GRIDLOOP_OPEN311_PUBLIC_CHANNELS", ["open311"])
GRIDLOOP_OPEN311_SERVICE_TYPE = os.environ.get("GRIDLOOP_OPEN311_SERVICE_TYPE", "realtime")
GRIDLOOP_OPEN311_CONTACT = os.environ.get("GRIDLOOP_OPEN311_CONTACT", "")
GRIDLOOP_OPEN311_KEY_SERVICE = os.environ.get("GRIDLOOP_OPEN311_KEY_SERVICE", "")
# WeChat official account server (/wechat/, 公众号 服务器配置): the Token and EncodingAESKey (43 characters; empty =
# plaintext mode only) entered in the account's settings, its AppID, and the AppSecret for the access token of the
# customer-service and media APIs (empty: the API base is a gateway that adds the token itself).
GRIDLOOP_WECHAT_TOKEN = os.environ.get("GRIDLOOP_WECHAT_TOKEN", "")
GRIDLOOP_WECHAT_ENCODING_AES_KEY = os.environ.get("GRIDLOOP_WECHAT_ENCODING_AES_KEY", "")
GRIDLOOP_WECHAT_APP_ID = os.environ.get("GRIDLOOP_WECHAT_APP_ID", "")
GRIDLOOP_WECHAT_APP_SECRET = os.environ.get("GRIDLOOP_WECHAT_APP_SECRET", "")
# The command center (code of a city, district or street) that receives WeChat reports without a location; empty =
# the city, when there is exactly one.
GRIDLOOP_WECHAT_INTAKE_REGION = os.environ.get("GRIDLOOP_WECHAT_INTAKE_REGION", "")
# A report left unfinished this long is filed as it is; requests larger than this are refused.
GRIDLOOP_WECHAT_CONVERSATION_MINUTES = int(os.environ.get("GRIDLOOP_WECHAT_CONVERSATION_MINUTES", "30"))
GRIDLOOP_WECHAT_MAX_BODY_BYTES = int(os.environ.get("GRIDLOOP_WECHAT_MAX_BODY_BYTES", 64 * 1024))
GRIDLOOP_WECHAT_LANGUAGE = os.environ.get("GRIDLOOP_WECHAT_LANGUAGE", "zh-hans")  # the bot, and notices sent by WeChat
# A message's signed timestamp may be this far from the server's clock; its (timestamp, nonce) is remembered for twice
# as long (in CACHES) and may carry only the body it first came with: a leaked signed URL forges nothing, since
# plaintext mode's signature does not cover the body.
GRIDLOOP_WECHAT_MAX_CLOCK_SKEW_SECONDS = int(os.environ.get("GRIDLOOP_WECHAT_MAX_CLOCK_SKEW_SECONDS", "300"))

# IoT sensors (events/sensors): HTTP batches are signed (HMAC-SHA256 over timestamp + body); a signature timestamp
# further than this from the server's clock is refused, and so are event timestamps this far in the future.
GRIDLOOP_SENSOR_MAX_BATCH = int(os.environ.get("GRIDLOOP_SENSOR_MAX_BATCH", "1000"))
GRIDLOOP_SENSOR_MAX_BODY_BYTES = int(os.environ.get("GRIDLOOP_SENSOR_MAX_BODY_BYTES", 1024 * 1024))
GRIDLOOP_SENSOR_SIGNATURE_MAX_AGE_SECONDS = int(os.environ.get("GRIDLOOP_SENSOR_SIGNATURE_MAX_AGE_SECONDS", "300"))
GRIDLOOP_SENSOR_MAX_CLOCK_SKEW_SECONDS = int(os.environ.get("GRIDLOOP_SENSOR_MAX_CLOCK_SKEW_SECONDS", "300"))
# Raw readings older than this are deleted (beat, hourly; or `manage.py sensor_purge`), in batches of this size.
GRIDLOOP_SENSOR_RETENTION_DAYS = int(os.environ.get("GRIDLOOP_SENSOR_RETENTION_DAYS", "90"))
GRIDLOOP_SENSOR_PURGE_BATCH = int(os.environ.get("GRIDLOOP_SENSOR_PURGE_BATCH", "10000"))
# The MQTT bridge (`manage.py sensor_bridge`): broker, subscription and session (QoS 1, clean_session off, so the
# broker keeps unacknowledged messages for the bridge across restarts), and its bounded in-memory queue.
GRIDLOOP_SENSOR_MQTT_HOST = os.environ.get("GRIDLOOP_SENSOR_MQTT_HOST", "127.0.0.1")
GRIDLOOP_SENSOR_MQTT_PORT = int(os.environ.get("GRIDLOOP_SENSOR_MQTT_PORT", "1883"))
GRIDLOOP_SENSOR_MQTT_TOPIC = os.environ.get("GRIDLOOP_SENSOR_MQTT_TOPIC", "gridloop/sensors/+/events")
GRIDLOOP_SENSOR_MQTT_CLIENT_ID = os.environ.get("GRIDLOOP_SENSOR_MQTT_CLIENT_ID", "gridloop-sensor-bridge")
GRIDLOOP_SENSOR_MQTT_QOS = int(os.environ.get("GRIDLOOP_SENSOR_MQTT_QOS", "1"))
GRIDLOOP_SENSOR_MQTT_USERNAME = os.environ.get("GRIDLOOP_SENSOR_MQTT_USERNAME", "")
GRIDLOOP_SENSOR_MQTT_PASSWORD = os.environ.get("GRIDLOOP_SENSOR_MQTT_PASSWORD", "")
GRIDLOOP_SENSOR_MQTT_KEEPALIVE = int(os.environ.get("GRIDLOOP_SENSOR_MQTT_KEEPALIVE", "60"))
GRIDLOOP_SENSOR_MQTT_QUEUE = int(os.environ.get("GRIDLOOP_SENSOR_MQTT_QUEUE", "2000"))  # messages held at most
GRIDLOOP_SENSOR_MQTT_BATCH_EVENTS = int(os.environ.get("GRIDLOOP_SENSOR_MQTT_BATCH_EVENTS", "2000"))
GRIDLOOP_SENSOR_MQTT_BATCH_WAIT_MS = int(os.environ.get("GRIDLOOP_SENSOR_MQTT_BATCH_WAIT_MS", "50"))
# The broker's limit of unacknowledged QoS 1 messages per client (Mosquitto's max_inflight_messages, default 20): a
# batch holding that many is closed at once, since no more come before it is acknowledged. 0: no such limit.
GRIDLOOP_SENSOR_MQTT_BROKER_INFLIGHT = int(os.environ.get("GRIDLOOP_SENSOR_MQTT_BROKER_INFLIGHT", "20"))
# Lanes of the bridge (threads with a connection each; a device's messages always in the same one): on PostgreSQL
# one lane's batch runs while the other's waits for the database. SQLite takes one writer at a time: one lane.
GRIDLOOP_SENSOR_MQTT_LANES = int(os.environ.get(
    "GRIDLOOP_SENSOR_MQTT_LANES", "1" if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3" else "2"))

# --- Evaluation (issue 6; docs/indicators.md) ---------------------------------------------------------------------------
# Composite weights per set (department, region, grid_worker, dispatcher) as JSON, over the defaults in
# dispatch/evaluation/scores.py, e.g. {"department": {"handling_rate": 50, "1-rework_rate": 50}}.
GRIDLOOP_EVAL_WEIGHTS = os.environ.get("GRIDLOOP_EVAL_WEIGHTS", "")
# A unit with a smaller sample than this is shown unranked (no rank, not on a red or yellow list).
GRIDLOOP_EVAL_MIN_SAMPLE = int(os.environ.get("GRIDLOOP_EVAL_MIN_SAMPLE", "20"))
# Red list = the top N, yellow list = the bottom N of each monthly league table.
GRIDLOOP_EVAL_LIST_SIZE = int(os.environ.get("GRIDLOOP_EVAL_LIST_SIZE", "3"))
# Days a black-listed unit (yellow twice within 12 months) has to rectify.
GRIDLOOP_EVAL_RECTIFY_DAYS = int(os.environ.get("GRIDLOOP_EVAL_RECTIFY_DAYS", "30"))
# 重复发生率: the same category reported again within this radius and this many days after a closure.
GRIDLOOP_RECURRENCE_RADIUS_M = float(os.environ.get("GRIDLOOP_RECURRENCE_RADIUS_M", "50"))
GRIDLOOP_RECURRENCE_DAYS = int(os.environ.get("GRIDLOOP_RECURRENCE_DAYS", "30"))
# The rollup sweep reads at most this many new case events per transaction, and keeps looking for a missing event id
# (a transaction still open when it passed) for this many seconds.
GRIDLOOP_ROLLUP_BATCH = int(os.environ.get("GRIDLOOP_ROLLUP_BATCH", "2000"))
GRIDLOOP_ROLLUP_GAP_SECONDS = float(os.environ.get("GRIDLOOP_ROLLUP_GAP_SECONDS", "600"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
