"""Discobot settings: every value comes from the environment (django-environ), grouped by concern.

Defaults run a single-user server with nothing installed (SQLite, in-memory channel layer,
anonymous mode). Production swaps parts in through environment variables alone; see README.md.
"""

from __future__ import annotations

import builtins
import ipaddress
import os
import re
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import environ

BASE_DIR = Path(__file__).resolve().parent.parent


class Environment(Protocol):
    """The readers of django-environ's `Env` used here, typed: the package ships no types, and
    every `settings.NAME` takes the type of the value read here."""

    def str(self, var: builtins.str, *, default: builtins.str) -> builtins.str: ...
    def bool(self, var: builtins.str, *, default: builtins.bool) -> builtins.bool: ...
    def int(self, var: builtins.str, *, default: builtins.int) -> builtins.int: ...
    def float(self, var: builtins.str, *, default: builtins.float) -> builtins.float: ...
    def list(
        self, var: builtins.str, *, default: builtins.list[builtins.str]
    ) -> builtins.list[builtins.str]: ...


env: Environment = environ.Env()


def env_secret(name: str, default: str = "") -> str:
    """Read a secret from NAME, or from the file named by NAME_FILE (Docker/K8s secrets)."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        return Path(file_path).read_text().strip()
    return env.str(name, default=default)


def fail_configuration(message: str) -> None:
    """Stop at start-up with one clear line instead of a traceback."""
    raise SystemExit(f"discobot: configuration error: {message}")


# --- Core -------------------------------------------------------------------------------------

DEBUG = env.bool("DEBUG", default=False)
PORT = env.int("PORT", default=3001)
AUTH_ENABLED = env.bool("AUTH_ENABLED", default=False)

_xdg_data_home = Path(env.str("XDG_DATA_HOME", default=str(Path.home() / ".local" / "share")))
DATA_DIR = Path(env.str("DATA_DIR", default=str(_xdg_data_home / "discobot"))).expanduser()
WORKSPACE_DIR = Path(env.str("WORKSPACE_DIR", default=str(DATA_DIR / "workspaces"))).expanduser()

# Only for development: anonymous mode is single-user and local, so a fixed key is harmless there.
DEV_SESSION_SECRET = "discobot-dev-session-secret-not-for-production"  # noqa: S105
DEV_ENCRYPTION_KEY = "0123456789abcdef" * 4
MIN_SESSION_SECRET_LENGTH = 32

SESSION_SECRET = env_secret("SESSION_SECRET")
ENCRYPTION_KEY = env_secret("ENCRYPTION_KEY")

if AUTH_ENABLED:
    if len(SESSION_SECRET) < MIN_SESSION_SECRET_LENGTH or SESSION_SECRET == DEV_SESSION_SECRET:
        fail_configuration(
            f"SESSION_SECRET must be set to a random value of at least "
            f"{MIN_SESSION_SECRET_LENGTH} characters when AUTH_ENABLED=true"
        )
    try:
        _key_ok = len(bytes.fromhex(ENCRYPTION_KEY)) == 32 and ENCRYPTION_KEY != DEV_ENCRYPTION_KEY
    except ValueError:
        _key_ok = False
    if not _key_ok:
        fail_configuration(
            "ENCRYPTION_KEY must be set to 64 hexadecimal characters (32 random bytes) "
            "when AUTH_ENABLED=true"
        )

SECRET_KEY = SESSION_SECRET or DEV_SESSION_SECRET
ENCRYPTION_KEY = ENCRYPTION_KEY or DEV_ENCRYPTION_KEY
# Keys that sealed older values; still readable until `manage.py rotate_encryption_key` runs.
ENCRYPTION_KEYS_OLD = [key for key in env_secret("ENCRYPTION_KEYS_OLD").split(",") if key.strip()]

# Where users reach this server (`https://discobot.example.com`); blank: a local server. Its
# scheme chooses the HTTPS defaults below, its host joins the allowed hosts.
PUBLIC_URL = env.str("PUBLIC_URL", default="").rstrip("/")
_public_host = urlsplit(PUBLIC_URL).hostname or ""

# `.localhost`: localhost and its subdomains, the services' preview hosts among them
# (`{session}-svc-{service}.localhost`, which browsers resolve to loopback). `.{PUBLIC_URL's
# host}`: the public host and its preview hosts; localhost stays for the probes of /health.
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS",
    default=[".localhost", "127.0.0.1", "[::1]", *([f".{_public_host}"] if _public_host else [])],
)

# --- Applications -----------------------------------------------------------------------------

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_tasks",
    "django_tasks_db",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.github",
    "allauth.socialaccount.providers.google",
    "apps.core",
    "apps.accounts",
    "apps.audit",
    "apps.projects",
    "apps.workspaces",
    "apps.agents",
    "apps.credentials",
    "apps.limits",
    "apps.gitops",
    "apps.sandbox",
    "apps.terminal",
    "apps.services",
    "apps.chat",
    "apps.search",
]

MIDDLEWARE = [
    # Outermost: every log line of the request carries its id; every request is counted.
    "discobot.logs.RequestIdMiddleware",
    "discobot.metrics.RequestMetricsMiddleware",
    # Outside the rest, so that it sees the cookies every other middleware sets.
    "apps.accounts.middleware.SecureCookiesOverHttpsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    # Inside CORS (a refused browser request can read why), before sessions and CSRF.
    "discobot.middleware.RequestBodyLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Makes the request the one whose caller and address the audit log records.
    "apps.audit.context.AuditRequestMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "discobot.urls"
ASGI_APPLICATION = "discobot.asgi.application"
AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
APPEND_SLASH = False

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

# --- Database ---------------------------------------------------------------------------------

# PostgreSQL connections of a process come from one pool (psycopg_pool): a request or an event
# stream's read borrows one and gives it back, so open streams cannot use up max_connections.
# 0 turns the pool off (a connection per request, as Django does by default).
DATABASE_POOL_SIZE = env.int("DATABASE_POOL_SIZE", default=10)
# How long a request waits for a free pooled connection (or for the database to come back).
DATABASE_POOL_TIMEOUT = env.float("DATABASE_POOL_TIMEOUT", default=10.0)
# Longest wait between attempts to reach a database that stopped answering (worker, streams).
DATABASE_RETRY_MAX_SECONDS = env.float("DATABASE_RETRY_MAX_SECONDS", default=10.0)


def database_config() -> dict[str, Any]:
    """DATABASE_URL (django-environ URL forms) or the contract's DATABASE_DSN forms.

    DATABASE_DSN accepts `sqlite3://PATH`, `sqlite://PATH`, a bare `*.db`/`*.sqlite` path, and
    `postgres://`/`postgresql://` URLs, as the original server did.
    """
    url = env_secret("DATABASE_URL")
    if not url:
        dsn = env_secret("DATABASE_DSN")
        if dsn.startswith(("sqlite3://", "sqlite://")):
            url = "sqlite:///" + dsn.split("://", 1)[1]
        elif dsn and "://" not in dsn and dsn.endswith((".db", ".sqlite", ".sqlite3")):
            url = "sqlite:///" + str(Path(dsn).expanduser().resolve())
        else:
            url = dsn
    if not url:
        url = "sqlite:///" + str(DATA_DIR / "discobot.db")
    if urlsplit(url).scheme not in environ.Env.DB_SCHEMES:
        fail_configuration("DATABASE_URL must be a sqlite:// or postgres:// URL")
    config: dict[str, Any] = environ.Env.db_url_config(url)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # WAL and IMMEDIATE transactions let the server and the job worker share one file
        # without "database is locked" errors on concurrent writes; writers take turns
        # (discobot/sqlite3/base.py).
        config["ENGINE"] = "discobot.sqlite3"
        config.setdefault("OPTIONS", {}).update(
            {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            }
        )
        # Requests run on long-lived threads (discobot/serving.py): each keeps its connection.
        config["CONN_MAX_AGE"] = None
        if config["NAME"] != ":memory:":
            database_file = Path(config["NAME"])
            database_file.parent.mkdir(parents=True, exist_ok=True)
            # A file, not Django's in-memory default: tests share it with threads and the
            # worker and server processes they start.
            config["TEST"] = {"NAME": str(database_file.with_name(f"test_{database_file.name}"))}
    elif config["ENGINE"] == "django.db.backends.postgresql" and DATABASE_POOL_SIZE:
        # Django requires CONN_MAX_AGE=0 with a pool: closing a connection returns it.
        config["CONN_MAX_AGE"] = 0
        # The pool then tests a connection before lending it, so after a database restart a
        # request gets a new connection instead of a dead one.
        config["CONN_HEALTH_CHECKS"] = True
        config.setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": DATABASE_POOL_SIZE,
            "timeout": DATABASE_POOL_TIMEOUT,
        }
    return config


DATABASES = {"default": database_config()}

# Threads of a server process that run ordinary requests (discobot/serving.py); event streams
# and WebSockets wait on its event loop instead. A request beyond this many waits for a thread.
# Two, so that one slow request (a command, a sandbox starting) does not hold up the process's
# other requests; more only add contention for the interpreter and, on SQLite, for the write
# lock (measured, 16 connections on 2 processes: 1 and 2 threads within noise of each other,
# 4 threads 15 % fewer listings a second and a p99 of adds 5x longer).
HTTP_THREADS = env.int("HTTP_THREADS", default=2)

# --- Cache (rate-limit counters, event-stream slots): shared through Redis across processes -

# Redis that stops answering fails a call after this long instead of holding up the request.
REDIS_TIMEOUT_SECONDS = 2.0

# Its password, if any, makes it a secret: REDIS_URL_FILE reads it from a file.
if REDIS_URL := env_secret("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "discobot.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
                "socket_timeout": REDIS_TIMEOUT_SECONDS,
            },
        }
    }
else:
    # Room for every open event stream's slot and every rate-limit counter before culling.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "OPTIONS": {"MAX_ENTRIES": 10_000},
        }
    }

# --- Background jobs (django-tasks, database backend; `manage.py worker` runs them) -----------

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
JOB_MAX_ATTEMPTS = env.int("JOB_MAX_ATTEMPTS", default=3)
JOB_RETRY_BACKOFF_SECONDS = env.float("JOB_RETRY_BACKOFF_SECONDS", default=5.0)
# A running job renews its lease every third of this; a job whose lease ran out lost its worker.
JOB_LEASE_SECONDS = env.float("JOB_LEASE_SECONDS", default=30.0)
WORKER_POLL_SECONDS = env.float("WORKER_POLL_SECONDS", default=0.5)
# /readyz reports no worker when a job has waited this long and no job's lease is being renewed.
WORKER_STALE_SECONDS = env.float("WORKER_STALE_SECONDS", default=60.0)

# --- Events (GET /api/projects/{id}/events) ---------------------------------------------------

# A stream also re-reads the event table this often, for a wake-up that was lost (with Redis
# through the channel layer, without it through the machine's sockets, apps.core.host_wakeups).
EVENTS_POLL_SECONDS = env.float("EVENTS_POLL_SECONDS", default=5.0 if REDIS_URL else 1.0)
EVENTS_KEEPALIVE_SECONDS = env.float("EVENTS_KEEPALIVE_SECONDS", default=15.0)
# Open streams one user may hold (across processes with Redis, per process otherwise); 0: no cap.
EVENTS_MAX_STREAMS_PER_USER = env.int("EVENTS_MAX_STREAMS_PER_USER", default=20)

# --- Channels ---------------------------------------------------------------------------------

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_connect_timeout": REDIS_TIMEOUT_SECONDS}]
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- HTTP: CORS, CSRF, cookies ----------------------------------------------------------------

CORS_ORIGINS = env.list(
    "CORS_ORIGINS",
    default=["http://*.localhost:3001", "http://localhost:3000", "http://*.localhost:3000"],
)


# The first label of a service preview's host (`{session}-svc-{service}.`): what a service
# serves is the repository's or the agent's code, never an origin the API trusts.
PREVIEW_LABEL = r"[^./]*-svc-[^./]*"


def origin_pattern(origin: str) -> str:
    """`http://*.localhost:3000` -> a regex matching any subdomain but a service preview's, as
    the contract's CORS list."""
    scheme, _, host = origin.partition("://")
    host_pattern = rf"(?!{PREVIEW_LABEL}\.)[^.]+\." if host.startswith("*.") else ""
    host = re.escape(host.removeprefix("*."))
    return rf"^{scheme}://{host_pattern}{host}$"


CORS_ALLOWED_ORIGIN_REGEXES = [origin_pattern(origin) for origin in CORS_ORIGINS]
CORS_ALLOW_CREDENTIALS = True
CORS_ALLOW_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
CORS_ALLOW_HEADERS = ["accept", "authorization", "content-type", "x-csrf-token", "x-csrftoken"]
CORS_PREFLIGHT_MAX_AGE = 300
# Django accepts the same `scheme://*.host` wildcard form for trusted origins.
CSRF_TRUSTED_ORIGINS = CORS_ORIGINS

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Refusals of non-API views (the admin, allauth) are JSON like every other error.
CSRF_FAILURE_VIEW = "discobot.views.csrf_failure"

# --- HTTPS in production: on by default when PUBLIC_URL is https ----------------------------

_https = PUBLIC_URL.startswith("https://")
# Cookies only over https. Without it a cookie is still marked Secure when its request came
# over https (SecureCookiesOverHttpsMiddleware): one server may answer both schemes.
SECURE_COOKIES = env.bool("SECURE_COOKIES", default=_https)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE_COOKIES
# An http request is redirected to https (the proxy's X-Forwarded-Proto says which it was);
# the probes, which an orchestrator sends over plain http to the container, are not.
SECURE_SSL_REDIRECT = env.bool("SSL_REDIRECT", default=_https)
SECURE_REDIRECT_EXEMPT = [r"^health$", r"^readyz$", r"^metrics$"]
# Browsers remember to use https only for this long; a year once https works, 0: no HSTS header.
SECURE_HSTS_SECONDS = env.int("HSTS_SECONDS", default=365 * 24 * 60 * 60 if _https else 0)
# The preview hosts are subdomains of the public host, served by the same proxy and certificate.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("HSTS_INCLUDE_SUBDOMAINS", default=True)
# Asking browsers to ship the host in their preload lists cannot be undone quickly: only on
# request, and `check --deploy` is not to nag about it (security.W021).
SECURE_HSTS_PRELOAD = env.bool("HSTS_PRELOAD", default=False)
SILENCED_SYSTEM_CHECKS = ["security.W021"]

# Proxies (addresses or networks, `10.0.0.0/8`) whose X-Forwarded-For names the client: the
# audit log, the limits on failed logins and the terminal's trail use it (discobot.clients).
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        fail_configuration(f"TRUSTED_PROXIES: {_proxy!r} is no IP address or network")

# --- Authentication ---------------------------------------------------------------------------

# Login sessions: the cookie carries a random token; the database keeps only its SHA-256.
SESSION_ENGINE = "apps.accounts.sessions"
SESSION_COOKIE_NAME = "discobot_session"
SESSION_COOKIE_AGE = 60 * 60 * 24 * 30
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# The SPA reads the CSRF cookie and echoes it in X-CSRFToken on unsafe requests.
CSRF_COOKIE_SAMESITE = "Lax"

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_REDIRECT_URL = "/"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_ADAPTER = "apps.accounts.adapters.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "apps.accounts.adapters.SocialAccountAdapter"
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_LOGIN_ON_GET = True
SOCIALACCOUNT_QUERY_EMAIL = True
SOCIALACCOUNT_STORE_TOKENS = False
# A provider asserts the address it verified; the same address is the same Discobot user.
SOCIALACCOUNT_EMAIL_AUTHENTICATION = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True

# Login providers are offered only when their client id and secret are set.
LOGIN_PROVIDER_CREDENTIALS = {
    "github": (env_secret("GITHUB_CLIENT_ID"), env_secret("GITHUB_CLIENT_SECRET")),
    "google": (env_secret("GOOGLE_CLIENT_ID"), env_secret("GOOGLE_CLIENT_SECRET")),
}
# allauth's own provider classes, with endpoints read from the settings below at request time.
SOCIALACCOUNT_PROVIDERS: dict[str, dict[str, object]] = {
    "github": {
        "provider_class": "apps.accounts.adapters.DiscobotGitHubProvider",
        "SCOPE": ["read:user", "user:email"],
    },
    "google": {
        "provider_class": "apps.accounts.adapters.DiscobotGoogleProvider",
        "SCOPE": ["openid", "email", "profile"],
    },
}
for _provider, (_client_id, _secret) in LOGIN_PROVIDER_CREDENTIALS.items():
    if _client_id and _secret:
        SOCIALACCOUNT_PROVIDERS[_provider]["APPS"] = [
            {"client_id": _client_id, "secret": _secret, "key": ""}
        ]
# Provider endpoints; tests and GitHub Enterprise point them elsewhere.
GITHUB_URL = env.str("GITHUB_URL", default="https://github.com").rstrip("/")
GITHUB_API_URL = env.str("GITHUB_API_URL", default="https://api.github.com").rstrip("/")
GOOGLE_AUTHORIZE_URL = env.str(
    "GOOGLE_AUTHORIZE_URL", default="https://accounts.google.com/o/oauth2/v2/auth"
)
GOOGLE_TOKEN_URL = env.str("GOOGLE_TOKEN_URL", default="https://oauth2.googleapis.com/token")
GOOGLE_USERINFO_URL = env.str(
    "GOOGLE_USERINFO_URL", default="https://www.googleapis.com/oauth2/v2/userinfo"
)

# Failed bearer tokens and failed login callbacks allowed per client address (django-ratelimit).
AUTH_FAILURE_RATE = env.str("AUTH_FAILURE_RATE", default="10/m")
RATELIMIT_IP_META_KEY = "discobot.clients.ratelimit_client_address"

# --- Metrics (/metrics, Prometheus) ----------------------------------------------------------

# The bearer token a scraper presents. Unset: /metrics is open in anonymous mode, and answers
# 404 with auth on.
METRICS_TOKEN = env_secret("METRICS_TOKEN")

# --- Static files -----------------------------------------------------------------------------

STATIC_URL = "/static/"
# Only `collectstatic` (a container build) needs it; `make run` serves from the finders.
STATIC_ROOT = env.str("STATIC_ROOT", default="") or None
STATICFILES_DIRS = [BASE_DIR / "static"]
# Served from the finders so `make run` needs no collectstatic step; the files are few.
WHITENOISE_USE_FINDERS = True

# --- The web app -------------------------------------------------------------------------------

# A built web app (a folder with index.html and assets/) served at `/`, so that the app and the
# API share one origin and the sign-in cookie travels; blank: this server serves only the API
# and the app runs on an origin of its own (CORS_ORIGINS). `manage.py check` refuses a folder
# without index.html.
SPA_DIST_DIR = Path(_spa).expanduser() if (_spa := env.str("SPA_DIST_DIR", default="")) else None

# --- Internationalisation ---------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- REST API ---------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["apps.accounts.authentication.CallerAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["discobot.api.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "discobot.api.exceptions.exception_handler",
    # `?format=` belongs to the contract (the diff's `format=files`), not to DRF's renderers.
    "URL_FORMAT_OVERRIDE": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Discobot API",
    "DESCRIPTION": (
        "Projects, workspaces, sessions, agents and credentials of a Discobot server. "
        "With AUTH_ENABLED=false every request runs as the anonymous user in project `local`."
    ),
    "VERSION": "0.1.0",
    # 3.1: schemas are JSON Schema (2020-12), which can state the rules of map keys
    # (`propertyNames`: MCP env and header names).
    "OAS_VERSION": "3.1.0",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "discobot.api.schema.declare_server_wide_errors",
    ],
    "SERVE_INCLUDE_SCHEMA": False,
    # With AUTH_ENABLED=true the description, like every /api path, needs a login.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Anonymous mode needs no credentials, so it is described in prose, not as a scheme.
    "AUTHENTICATION_WHITELIST": ["apps.accounts.authentication.CallerAuthentication"],
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "apps.projects.models.Role",
        "InvitableRoleEnum": ["admin", "member"],
        "SessionStatusEnum": "apps.workspaces.models.SessionStatus",
        "WorkspaceStatusEnum": "apps.workspaces.models.WorkspaceStatus",
        "CommitStatusEnum": "apps.workspaces.models.CommitStatus",
        "StdioTypeEnum": ["stdio"],
        "HttpTypeEnum": ["http"],
        "EntryTypeEnum": ["file", "directory"],
    },
}

# --- Logging ----------------------------------------------------------------------------------

# `text` for a person at a terminal; `json`: one object a line (time, level, logger, message,
# request_id) for a log collector.
LOG_FORMAT = env.str("LOG_FORMAT", default="text")
if LOG_FORMAT not in ("text", "json"):
    fail_configuration("LOG_FORMAT must be text or json")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "discobot.logs.JsonFormatter"},
    },
    "filters": {
        # Request paths in log lines lose the secrets they carry (invitation tokens, OAuth codes).
        "redact_secrets": {"()": "discobot.redaction.RedactSecretsFilter"},
        "request_id": {"()": "discobot.logs.RequestIdFilter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["redact_secrets", "request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's development server logs request lines on a handler of its own, unredacted.
        "django.server": {"handlers": ["console"], "propagate": False},
        # The pool warns at every failed reconnect; discobot.outages logs an outage once.
        "psycopg.pool": {"level": "ERROR"},
        # litellm announces every completion at INFO.
        "LiteLLM": {"level": "WARNING"},
    },
}

# --- LLM provider credentials (contract §2 Credentials); upstream URLs overridable for tests ---

ANTHROPIC_CLIENT_ID = env.str("ANTHROPIC_CLIENT_ID", default="9d1c250a-e61b-44d9-88ed-5944d1962f5e")
ANTHROPIC_AUTHORIZE_URL = env.str(
    "ANTHROPIC_AUTHORIZE_URL", default="https://claude.ai/oauth/authorize"
)
ANTHROPIC_TOKEN_URL = env.str(
    "ANTHROPIC_TOKEN_URL", default="https://console.anthropic.com/v1/oauth/token"
)
ANTHROPIC_REDIRECT_URI = env.str(
    "ANTHROPIC_REDIRECT_URI", default="https://console.anthropic.com/oauth/code/callback"
)
ANTHROPIC_BASE_URL = env.str("ANTHROPIC_BASE_URL", default="https://api.anthropic.com")
OPENAI_BASE_URL = env.str("OPENAI_BASE_URL", default="https://api.openai.com/v1")
GITHUB_COPILOT_CLIENT_ID = env.str("GITHUB_COPILOT_CLIENT_ID", default="Iv1.b507a08c87ecfe98")
# github.com's OAuth host; an enterprise domain is reached as {GITHUB_ENTERPRISE_SCHEME}://domain.
COPILOT_GITHUB_URL = env.str("COPILOT_GITHUB_URL", default="https://github.com").rstrip("/")
GITHUB_ENTERPRISE_SCHEME = env.str("GITHUB_ENTERPRISE_SCHEME", default="https")
CODEX_CLIENT_ID = env.str("CODEX_CLIENT_ID", default="app_EMoamEEZ73f0CkXaXp7hrann")
CODEX_AUTHORIZE_URL = env.str(
    "CODEX_AUTHORIZE_URL", default="https://auth.openai.com/oauth/authorize"
)
CODEX_TOKEN_URL = env.str("CODEX_TOKEN_URL", default="https://auth.openai.com/oauth/token")
CODEX_REDIRECT_URI = env.str("CODEX_REDIRECT_URI", default="http://localhost:1455/auth/callback")
UPSTREAM_TIMEOUT_SECONDS = env.float("UPSTREAM_TIMEOUT_SECONDS", default=15.0)
# Listing the models of a credential's base URL: how long to wait, how long to keep the answer.
MODEL_LIST_TIMEOUT_SECONDS = env.float("MODEL_LIST_TIMEOUT_SECONDS", default=5.0)
MODEL_LIST_CACHE_SECONDS = env.int("MODEL_LIST_CACHE_SECONDS", default=60)
# An OAuth access token this close to expiry is refreshed before use.
CREDENTIAL_REFRESH_MARGIN_SECONDS = 300
# litellm must not fetch its model price list from the internet when it is imported, nor
# (offline mode) the other catalogs it would fetch on first use, such as Anthropic's beta flags.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_OFFLINE_MODE", "True")
# Codex: the ChatGPT account's Responses API; Copilot: GitHub's exchange of the user's token for
# a Copilot API token, and the API it is spent on when the exchange names none.
CODEX_BASE_URL = env.str("CODEX_BASE_URL", default="https://chatgpt.com/backend-api/codex")
COPILOT_TOKEN_URL = env.str(
    "COPILOT_TOKEN_URL", default="https://api.github.com/copilot_internal/v2/token"
)
COPILOT_API_URL = env.str("COPILOT_API_URL", default="https://api.githubcopilot.com")
# The operator's own OpenAI-compatible endpoint for agent types that need no credential ("Free"):
# off unless DEFAULT_LLM_BASE_URL is set; DEFAULT_LLM_MODEL replaces the agent's model there.
DEFAULT_LLM_BASE_URL = env.str("DEFAULT_LLM_BASE_URL", default="")
DEFAULT_LLM_API_KEY = env_secret("DEFAULT_LLM_API_KEY")
DEFAULT_LLM_MODEL = env.str("DEFAULT_LLM_MODEL", default="")

# --- Workspaces and sandboxes -----------------------------------------------------------------

# Folders that local workspaces (and git sources on this disk) must lie inside. With auth on and
# none set, local folders are off: any user could otherwise read any file the server can.
WORKSPACE_ROOTS = [Path(root).expanduser() for root in env.list("WORKSPACE_ROOTS", default=[])]
# Folder completions for the new-workspace dialog (`GET .../suggestions`), inside
# WORKSPACE_ROOTS, or in anonymous mode without them the server user's home. On by default only
# in anonymous mode, where the one user owns every folder anyway.
SUGGESTIONS_ENABLED = env.bool("SUGGESTIONS_ENABLED", default=not AUTH_ENABLED)
# URL schemes of remote git sources with auth on (scp-like `user@host:path` counts as ssh).
GIT_URL_SCHEMES = [
    scheme.lower() for scheme in env.list("GIT_URL_SCHEMES", default=["https", "ssh", "git"])
]
# Where sessions run: `auto` takes docker when its engine answers, else local (apps.sandbox).
SANDBOX_PROVIDER = env.str("SANDBOX_PROVIDER", default="auto")
if SANDBOX_PROVIDER not in ("auto", "docker", "local"):
    fail_configuration("SANDBOX_PROVIDER must be auto, docker or local")
# The local provider runs sessions as the server's own user, without isolation: with auth on
# (several users) only when the operator says so.
LOCAL_PROVIDER_ENABLED = env.bool("LOCAL_PROVIDER_ENABLED", default=False)
# The docker provider's image, built on this machine by sandbox/build-image.sh (no registry).
SANDBOX_IMAGE = env.str("SANDBOX_IMAGE", default="discobot-sandbox:latest")
# Per container: CPUs (fractions allowed), memory (docker's units: 512m, 2g), processes.
SANDBOX_CPUS = env.float("SANDBOX_CPUS", default=1.0)
SANDBOX_MEMORY = env.str("SANDBOX_MEMORY", default="2g")
SANDBOX_PIDS_LIMIT = env.int("SANDBOX_PIDS_LIMIT", default=512)
# A docker network mode: "bridge" reaches the network, "none" cuts the sandbox off.
SANDBOX_NETWORK = env.str("SANDBOX_NETWORK", default="bridge")
# Blank: the Docker SDK's own default (the DOCKER_HOST variable, then the local socket).
DOCKER_HOST = env.str("DOCKER_HOST", default="")
# A sandbox nothing uses (no terminal attached, no agent turn running) stops after this long.
SANDBOX_IDLE_TIMEOUT = env.float("SANDBOX_IDLE_TIMEOUT", default=30 * 60.0)
# A terminal or turn renews its hold on the sandbox this often; one whose server process died
# stops counting after SANDBOX_USE_LEASE_SECONDS.
SANDBOX_USE_LEASE_SECONDS = env.float("SANDBOX_USE_LEASE_SECONDS", default=120.0)
# Terminal history: what the terminals showed is read from tmux this often while one is attached
# (and when it detaches, and before its sandbox stops); each session keeps its latest lines, and
# `manage.py prune_terminal_history` deletes those older than the retention.
TERMINAL_CAPTURE_SECONDS = env.float("TERMINAL_CAPTURE_SECONDS", default=10.0)
# The server pings every WebSocket this often, and closes one whose answer does not come
# within as long (1011): how fast a vanished browser's terminal is let go.
WEBSOCKET_PING_SECONDS = env.float("WEBSOCKET_PING_SECONDS", default=20.0)
TERMINAL_HISTORY_MAX_LINES = env.int("TERMINAL_HISTORY_MAX_LINES", default=10000)
TERMINAL_HISTORY_RETENTION_DAYS = env.int("TERMINAL_HISTORY_RETENTION_DAYS", default=30)
# The audit log keeps entries this many days; the worker's daily pass (and
# `manage.py prune_audit`) deletes older ones.
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=365)
# How often the worker compares sessions with the sandboxes the providers really hold (and
# stops idle ones); it also does so when it starts.
SANDBOX_RECONCILE_SECONDS = env.float("SANDBOX_RECONCILE_SECONDS", default=60.0)
# Names this installation's sandboxes on a shared engine, so that it removes only its own
# leftovers; blank: derived from DATA_DIR.
SANDBOX_INSTANCE = env.str("SANDBOX_INSTANCE", default="")
# Lines of scrollback tmux keeps for each terminal's shell (its history-limit).
TERMINAL_SCROLLBACK_LINES = env.int("TERMINAL_SCROLLBACK_LINES", default=10000)
# The agent's tools in a session's sandbox: Bash's timeout (120 s unless the agent asks for
# another) is capped at AGENT_BASH_TIMEOUT_MAX_SECONDS; what a tool returns (Bash's stdout and
# stderr each, Read, Grep) is cut past AGENT_TOOL_OUTPUT_MAX_BYTES.
AGENT_BASH_TIMEOUT_MAX_SECONDS = env.float("AGENT_BASH_TIMEOUT_MAX_SECONDS", default=600.0)
AGENT_TOOL_OUTPUT_MAX_BYTES = env.int("AGENT_TOOL_OUTPUT_MAX_BYTES", default=64 * 1024)
# An agent's MCP server that has not answered its handshake and tool list in this long is left
# out of the turn; a call to one of its tools fails after AGENT_MCP_CALL_SECONDS.
AGENT_MCP_START_SECONDS = env.float("AGENT_MCP_START_SECONDS", default=30.0)
AGENT_MCP_CALL_SECONDS = env.float("AGENT_MCP_CALL_SECONDS", default=300.0)
SESSIONS_DIR = Path(env.str("SESSIONS_DIR", default=str(DATA_DIR / "sessions"))).expanduser()

# --- Git ----------------------------------------------------------------------------------------

GIT_PROVIDER = env.str("GIT_PROVIDER", default="apps.gitops.provider.LocalGitProvider")
# A mirror fetched this recently serves a new clone of the same URL without touching the network.
GIT_MIRROR_FRESH_SECONDS = env.float("GIT_MIRROR_FRESH_SECONDS", default=300.0)
# A clone tells its viewers how far its download is at most this often.
CLONE_PROGRESS_SECONDS = env.float("CLONE_PROGRESS_SECONDS", default=0.25)
# Largest file the files API reads or writes.
FILE_MAX_BYTES = env.int("FILE_MAX_BYTES", default=10 * 1024 * 1024)
GIT_AUTHOR_NAME = env.str("GIT_AUTHOR_NAME", default="Discobot")
GIT_AUTHOR_EMAIL = env.str("GIT_AUTHOR_EMAIL", default="discobot@localhost")

# --- Request limits ---------------------------------------------------------------------------

# A file of FILE_MAX_BYTES travels base64-encoded (4/3 of its size) in a JSON body beside a few
# other fields; a larger body is refused with 413 before it is read.
REQUEST_BODY_OVERHEAD_BYTES = 64 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 4 * ((FILE_MAX_BYTES + 2) // 3) + REQUEST_BODY_OVERHEAD_BYTES

# --- Chat: the agent's turns ------------------------------------------------------------------
# A turn runs at most AGENT_MAX_STEPS model calls (each may call tools). Turns are generated by
# the workers' turn runners (`manage.py worker`), CHAT_RUNNER_MAX_TURNS at once per worker; a
# runner renews its turns' lease every third of CHAT_TURN_LEASE_SECONDS, and a turn whose lease
# ran out (its worker died) is saved as interrupted. Runners look for new turns and for cancels
# every CHAT_RUNNER_POLL_SECONDS, and a chat stream reads its turn's log every
# CHAT_STREAM_POLL_SECONDS. A new turn wakes the runners, and each batch of chunks reaches the
# streams, at once (through Redis, or without it through the machine's sockets); the polls make
# up for a lost wake-up, and are short without Redis, where one is dropped when a socket's queue
# is full (a poll costs one indexed read, shared by a turn's streams in a process).
AGENT_MAX_STEPS = env.int("AGENT_MAX_STEPS", default=25)
CHAT_RUNNER_MAX_TURNS = env.int("CHAT_RUNNER_MAX_TURNS", default=50)
CHAT_TURN_LEASE_SECONDS = env.float("CHAT_TURN_LEASE_SECONDS", default=30.0)
CHAT_RUNNER_POLL_SECONDS = env.float("CHAT_RUNNER_POLL_SECONDS", default=0.5 if REDIS_URL else 0.05)
CHAT_STREAM_POLL_SECONDS = env.float(
    "CHAT_STREAM_POLL_SECONDS", default=EVENTS_POLL_SECONDS if REDIS_URL else 0.05
)
# Limits every project has where it set none for that metric and window: `metric:window:amount`
# items (metrics tokens, cost, turns, concurrent_turns; windows minute, day, month, total), e.g.
# `cost:day:10,turns:minute:30`.
DEFAULT_LIMITS = env.list("DEFAULT_LIMITS", default=[])
