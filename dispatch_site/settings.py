"""Settings, all read from the environment here and nowhere else.

DJANGO_ENV picks the posture: "production" refuses to start without SECRET_KEY and turns on
the transport-security settings; anything else ("development", the default) uses a local key.
Defaults are safe: DEBUG off, localhost only, SQLite file when DATABASE_URL is unset.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int, *, low: int, high: int) -> int:
    """An integer setting within [low, high]; anything else refuses to start, naming the variable."""
    raw = os.environ.get(name, "").strip() or str(default)
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number from {low} to {high}, not {raw!r}") from None
    if not low <= value <= high:
        raise ImproperlyConfigured(f"{name} must be from {low} to {high}, not {value}")
    return value


DJANGO_ENV = os.environ.get("DJANGO_ENV", "development")
PRODUCTION = DJANGO_ENV == "production"
DEBUG = env_bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set when DJANGO_ENV=production")
    SECRET_KEY = "development-only-insecure-key-do-not-use-in-production-0123456789"  # noqa: S105 - dev only

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "dispatch_site.apps.DispatchAdminConfig",  # django.contrib.admin with the product's site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "vocabulary",  # no models: the code -> plain words template filters (`{% load wording %}`)
    "providers",
    "policies",
    "audit",
    "teachers",
    "clients",
    "alerts",  # webhooks: provider health and budget alerts, sent by a background job
    "authoring",  # the back office: admin, forms, policy-as-code, the demo world, change requests
    "api",  # the REST surface (no models; registers the OpenAPI extensions)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "dispatch_site.security.ContentSecurityPolicyMiddleware",
    "dispatch_site.security.AdminLoginThrottleMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "common.outage.DatabaseUnavailableMiddleware",
]
# An API call made with an API key (`Authorization: Api-Key ...` to an API path) runs MIDDLEWARE
# without these (dispatch_site/handlers.py, built at start-up: middleware added below is kept). It
# needs no session, CSRF, login, messages, history context or static files, and each costs CPU on
# every dispatch (docs/performance.md). Pages and the admin run all.
PAGE_ONLY_MIDDLEWARE = frozenset(
    {
        "whitenoise.middleware.WhiteNoiseMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "dispatch_site.security.AdminLoginThrottleMiddleware",
        "simple_history.middleware.HistoryRequestMiddleware",
    }
)

ROOT_URLCONF = "dispatch_site.urls"
WSGI_APPLICATION = "dispatch_site.wsgi.application"

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
            ],
        },
    },
]

# Database: SQLite file by default; PostgreSQL (psycopg 3) with a connection pool when
# DATABASE_URL points at it. Timeouts nest: pool wait < statement < gunicorn worker timeout.
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
_database = dj_database_url.parse(DATABASE_URL)
if _database["ENGINE"] == "django.db.backends.postgresql":
    _database["CONN_MAX_AGE"] = 0  # the pool owns connections; persistent ones would conflict
    _database.setdefault("OPTIONS", {})
    if env_bool("DB_POOL", True):
        _database["OPTIONS"]["pool"] = {
            "min_size": int(os.environ.get("DB_POOL_MIN_SIZE", "1")),
            "max_size": int(os.environ.get("DB_POOL_MAX_SIZE", "4")),
            "timeout": float(os.environ.get("DB_POOL_TIMEOUT", "3")),
        }
    _database["OPTIONS"]["connect_timeout"] = int(os.environ.get("DB_CONNECT_TIMEOUT", "3"))
    _database["OPTIONS"]["options"] = f"-c statement_timeout={int(os.environ.get('DB_STATEMENT_TIMEOUT_MS', '5000'))}"
    # Server-side-bound statements are prepared after this many runs on a connection (psycopg 3); only
    # the audit INSERT uses server-side binding (common/inserts.py), the rest binds on the client.
    _database["OPTIONS"]["prepare_threshold"] = int(os.environ.get("DB_PREPARE_THRESHOLD", "5"))
elif _database["ENGINE"] == "django.db.backends.sqlite3":
    # Several gunicorn workers share the file: WAL lets readers run beside the one writer.
    _database["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
# After a request meets a database outage, the worker answers 503 at once for this long, then
# retries with a fresh pool (dispatch_site/outage.py): a down database never queues requests.
DB_OUTAGE_HOLD_SECONDS = float(os.environ.get("DB_OUTAGE_HOLD_SECONDS", "1"))
if os.environ.get("DATABASE_TEST_NAME"):
    _database["TEST"] = {"NAME": os.environ["DATABASE_TEST_NAME"]}
DATABASES = {"default": _database}
# Two PostgreSQL roles (docs/security.md): DATABASE_URL is the service's role, which
# may not change or delete audit rows; DATABASE_OWNER_URL, when set, is the role that owns the
# tables: `migrate` (which then grants the service its privileges) and the audit commands
# (`verify_audit_log`, `purge_dispatch_logs`) use it through the "owner" alias. Unset, one role
# does everything, as on SQLite. bin/start never gives it to the serving processes.
DATABASE_OWNER_URL = os.environ.get("DATABASE_OWNER_URL", "")
if DATABASE_OWNER_URL:
    _owner = dj_database_url.parse(DATABASE_OWNER_URL)
    if _owner["ENGINE"] != "django.db.backends.postgresql" or _database["ENGINE"] != _owner["ENGINE"]:
        raise ImproperlyConfigured("DATABASE_OWNER_URL needs DATABASE_URL and itself on PostgreSQL")
    if any(_owner[key] != _database[key] for key in ("NAME", "HOST", "PORT")):
        raise ImproperlyConfigured("DATABASE_OWNER_URL must name the same database (host, port, name) as DATABASE_URL")
    if not _owner["USER"] or _owner["USER"] == _database["USER"]:
        raise ImproperlyConfigured("DATABASE_OWNER_URL must name another role than DATABASE_URL (the service's)")
    _owner["CONN_MAX_AGE"] = 0
    _owner["OPTIONS"] = {key: value for key, value in _database["OPTIONS"].items() if key != "pool"}
    _owner["TEST"] = dict(_database.get("TEST", {}))
    DATABASES["owner"] = _owner
    DATABASE_ROUTERS = ["audit.roles.MigrationRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache: Redis when REDIS_URL is set (shared by every worker and instance), else per-process
# memory. With Redis down the cache fails open (IGNORE_EXCEPTIONS) and logs it.
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "mds"),
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
                "IGNORE_EXCEPTIONS": True,
                "LOG_IGNORED_EXCEPTIONS": True,
            },
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# One date format everywhere in the admin (dispatch_site/formats/en/formats.py): 2026-11-30 09:37 UTC.
FORMAT_MODULE_PATH = ["dispatch_site.formats"]
TIME_ZONE = "UTC"
# The currency of the providers' prices (cost per 1k tokens, reported costs), shown next to every amount.
COST_CURRENCY = os.environ.get("COST_CURRENCY", "USD")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# The API. One exception handler maps every error to the same JSON shape.
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.StrictJSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "api.negotiation.JsonFirstNegotiation",  # DRF's, minus common-case parsing
    # Access control (api/access.py): API keys, then admin sessions; each view's `required_scope`.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.access.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["api.access.HasRequiredScope"],
    "DEFAULT_THROTTLE_CLASSES": ["api.access.ClientRateThrottle"],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "api.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Model Dispatch Service",
    "DESCRIPTION": (
        "Decides, before every LLM call an educational app makes, which provider may serve it, "
        "with which prompt templates and moderation threshold, within the law of the region."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_AUTHENTICATION": [],  # /schema and /docs are public
    # Client developers authenticate with API keys only: the schema (and so Swagger's Authorize
    # dialog) offers no session login, though a staff session may still call the API.
    "AUTHENTICATION_WHITELIST": ["api.access.ApiKeyAuthentication"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.declare_auth_responses",
        "api.schema.declare_request_line_limit",
    ],
}

# Largest request body the API parses (bytes); larger gets 413.
DISPATCH_MAX_BODY_BYTES = int(os.environ.get("DISPATCH_MAX_BODY_BYTES", "16384"))
DATA_UPLOAD_MAX_MEMORY_SIZE = 1_048_576
# How often (seconds) a worker checks the snapshot version stamp; bounds staleness across workers.
SNAPSHOT_CHECK_INTERVAL = float(os.environ.get("SNAPSHOT_CHECK_INTERVAL", "0.1"))
# With Redis, that check reads a mirror of the stamp (one GET) and PostgreSQL, the source of
# truth, only every SNAPSHOT_DB_CHECK_INTERVAL seconds; without Redis it reads PostgreSQL.
SNAPSHOT_STAMP_IN_REDIS = bool(REDIS_URL) and env_bool("SNAPSHOT_STAMP_IN_REDIS", True)
SNAPSHOT_DB_CHECK_INTERVAL = float(os.environ.get("SNAPSHOT_DB_CHECK_INTERVAL", "5"))
# With Redis, one worker builds each new snapshot version and the others load its rows from Redis.
SNAPSHOT_SHARE_BUILDS = bool(REDIS_URL) and env_bool("SNAPSHOT_SHARE_BUILDS", True)
# Shared rows carry an HMAC-SHA256 under this key (never stored in Redis), checked before a worker
# loads them; unset, it is derived from SECRET_KEY. Every instance sharing a Redis needs the same.
SNAPSHOT_SHARE_KEY = os.environ.get("SNAPSHOT_SHARE_KEY", "")

# Test-only: shifts the service's clock (the UTC date compliance judges agreements on, and when a
# snapshot expires) by this many seconds, so a test can cross a UTC midnight without waiting for one.
# Refused under DJANGO_ENV=production (common/clock.py).
SERVICE_CLOCK_OFFSET_SECONDS = float(os.environ.get("SERVICE_CLOCK_OFFSET_SECONDS", "0"))
if PRODUCTION and SERVICE_CLOCK_OFFSET_SECONDS:
    raise ImproperlyConfigured("SERVICE_CLOCK_OFFSET_SECONDS is for tests; it must be unset when DJANGO_ENV=production")

# Access and abuse limits (docs/security.md).
API_CLIENT_DEFAULT_RATE = os.environ.get("API_CLIENT_DEFAULT_RATE", "600/min")  # clients without their own rate
API_KEY_CACHE_SECONDS = float(os.environ.get("API_KEY_CACHE_SECONDS", "5"))  # revocation reaches workers within
# After a Redis failure every user of Redis leaves it alone this long (common/redis_client.py):
# per-process rate counts, PostgreSQL reads of the snapshot stamp, snapshots built here.
RATE_LIMIT_REDIS_RETRY = float(os.environ.get("RATE_LIMIT_REDIS_RETRY", "5"))
# Dispatch takes its rate-limit slots in leases that live at most this long (common/counters/).
RATE_LIMIT_LEASE_SECONDS = float(os.environ.get("RATE_LIMIT_LEASE_SECONDS", "1"))
# Outcome reports are bounded (400 beyond): tokens per field, and latency up to the histogram's top bucket.
OUTCOME_MAX_TOKENS = env_int("OUTCOME_MAX_TOKENS", 1_000_000, low=1, high=100_000_000)
OUTCOME_MAX_LATENCY_MS = env_int("OUTCOME_MAX_LATENCY_MS", 600_000, low=1, high=600_000)
# The most of a provider's tokens_per_minute one client's reported tokens may use (percent): a client
# past it sees the provider as rate-limited for its own dispatches; the others keep the rest.
CLIENT_TOKEN_SHARE_PERCENT = env_int("CLIENT_TOKEN_SHARE_PERCENT", 50, low=1, high=100)
# Provider health (providers/health/, docs/reliability.md): outcomes apps report steer routing.
# A provider cools down after N consecutive provider-side failures, or a failure rate of at least
# R % over at least M outcomes of a window; after the cooldown a few probes may go to it.
PROVIDER_HEALTH_FAILURES = env_int("PROVIDER_HEALTH_FAILURES", 5, low=1, high=10_000)
PROVIDER_HEALTH_FAILURE_RATE_PERCENT = env_int("PROVIDER_HEALTH_FAILURE_RATE_PERCENT", 50, low=1, high=100)
PROVIDER_HEALTH_MIN_OUTCOMES = env_int("PROVIDER_HEALTH_MIN_OUTCOMES", 20, low=1, high=1_000_000)
PROVIDER_HEALTH_WINDOW_SECONDS = env_int("PROVIDER_HEALTH_WINDOW_SECONDS", 60, low=1, high=86_400)
PROVIDER_HEALTH_COOLDOWN_SECONDS = env_int("PROVIDER_HEALTH_COOLDOWN_SECONDS", 30, low=1, high=86_400)
PROVIDER_HEALTH_COOLDOWN_MAX_SECONDS = env_int("PROVIDER_HEALTH_COOLDOWN_MAX_SECONDS", 600, low=1, high=86_400)
PROVIDER_HEALTH_PROBES = env_int("PROVIDER_HEALTH_PROBES", 2, low=1, high=1_000)
# Each worker rereads the shared health view at most this often: how stale its view may be.
PROVIDER_HEALTH_VIEW_SECONDS = float(os.environ.get("PROVIDER_HEALTH_VIEW_SECONDS", "1"))
ADMIN_LOGIN_MAX_FAILURES = int(os.environ.get("ADMIN_LOGIN_MAX_FAILURES", "10"))  # per IP and per username
ADMIN_LOGIN_LOCKOUT_SECONDS = int(os.environ.get("ADMIN_LOGIN_LOCKOUT_SECONDS", "900"))
CONTENT_SECURITY_POLICY = os.environ.get(
    "CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'",
)

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
# OpenTelemetry tracing (common/tracing.py): off unless an OTLP endpoint is set; the exporter
# reads the standard OTEL_EXPORTER_OTLP_* variables itself.
OTEL_EXPORTER_OTLP_ENDPOINT = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
OTEL_SERVICE_NAME = os.environ.get("OTEL_SERVICE_NAME", "").strip() or "model-dispatch-service"
# LOG_FORMAT=json: every log line is a JSON object, plus one line per request (dispatch_site/request_log.py).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text").strip().lower()
if LOG_FORMAT not in {"text", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be text or json, not {LOG_FORMAT!r}")
if LOG_FORMAT == "json":
    MIDDLEWARE.insert(0, "dispatch_site.request_log.RequestLogMiddleware")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "common.json_log.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json" if LOG_FORMAT == "json" else "plain"}
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Django logs every 4xx response as a WARNING. A refusal (422) is a normal, audited outcome
        # of dispatch, not a fault, and 4xx are in the access log: a log line per refusal was a
        # write per request for nothing (measured by make bench). 5xx still log, with tracebacks.
        "django.request": {"level": os.environ.get("DJANGO_REQUEST_LOG_LEVEL", "ERROR")},
    },
}

SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Audit trail (docs/security.md, "The audit trail"). AUDIT_HMAC_KEY signs every audit row and checkpoint;
# unset, it is derived from SECRET_KEY (so rotating SECRET_KEY would then invalidate old rows).
AUDIT_HMAC_KEY = os.environ.get("AUDIT_HMAC_KEY", "")
# Rows younger than this (seconds) are not yet sealed into checkpoints or folded into rollups,
# so a transaction still committing an older id is never skipped.
AUDIT_SETTLE_SECONDS = float(os.environ.get("AUDIT_SETTLE_SECONDS", "10"))
AUDIT_CHECKPOINT_ROWS = int(os.environ.get("AUDIT_CHECKPOINT_ROWS", "1000"))
# Bearer token for GET /metrics (Prometheus). Unset: /metrics is open in development and refused
# (403) under DJANGO_ENV=production; `check --deploy` warns (audit/checks.py).
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")

# Periodic jobs run by each gunicorn worker in a background thread (common/background.py): work that
# must happen on time without cron (each job claims its work in PostgreSQL, so it is done once).
BACKGROUND_JOBS = env_bool("BACKGROUND_JOBS", True)

# Alerts (docs/administration.md, "Webhooks"): each worker's background job sends the webhook
# deliveries that are due every ALERT_DELIVERY_INTERVAL seconds; a receiver has
# ALERT_WEBHOOK_TIMEOUT_SECONDS to answer; a failed attempt is retried after
# ALERT_WEBHOOK_RETRY_SECONDS x 2^(attempts - 1) (at most an hour), ALERT_WEBHOOK_MAX_ATTEMPTS in all.
ALERT_DELIVERY_INTERVAL = float(os.environ.get("ALERT_DELIVERY_INTERVAL", "2"))
ALERT_WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("ALERT_WEBHOOK_TIMEOUT_SECONDS", "5"))
ALERT_WEBHOOK_RETRY_SECONDS = float(os.environ.get("ALERT_WEBHOOK_RETRY_SECONDS", "30"))
ALERT_WEBHOOK_MAX_ATTEMPTS = env_int("ALERT_WEBHOOK_MAX_ATTEMPTS", 8, low=1, high=50)

# Change approval (docs/changes.md): "off" (default) saves authored changes at once; "required" turns
# every save into a change request that another administrator approves before the service publishes it.
CHANGE_APPROVAL = os.environ.get("CHANGE_APPROVAL", "off").strip().lower() or "off"
if CHANGE_APPROVAL not in {"off", "required"}:
    raise ImproperlyConfigured(f"CHANGE_APPROVAL must be off or required, not {CHANGE_APPROVAL!r}")
# How often (seconds) each worker looks for approved change requests that are due (within a minute).
try:
    CHANGE_PUBLISH_INTERVAL = float(os.environ.get("CHANGE_PUBLISH_INTERVAL", "").strip() or "20")
except ValueError:
    CHANGE_PUBLISH_INTERVAL = 0.0
if not 0 < CHANGE_PUBLISH_INTERVAL <= 50:
    raise ImproperlyConfigured("CHANGE_PUBLISH_INTERVAL must be a number of seconds above 0 and at most 50")
