"""Django settings, read from ``ESTAFETTE_*`` environment variables.

The defaults are the embedded single machine: SQLite in the data dir, a local nats-server and jobs
run as local processes. Production switches by environment (see README, "Configuration").
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from builder import __version__ as builder_version
from estafette.lib.datadir import make_private_dir, make_private_file
from estafette.lib.dburl import database_from_url
from estafette.lib.env import (
    env_bool,
    env_choice,
    env_int,
    env_json,
    env_paths,
    env_secret,
    env_secret_or_generated,
    env_str,
)
from estafette.lib.natsauth import nats_connection_from_env
from estafette.lib.server_config import check_manifest_preferences, check_slack_channels, read_server_config

# What the server's processes create (the database, keys, the JetStream store, clones, jobs, static files) is theirs
# alone: files 0600, directories 0700, by one umask their entry points (manage.py, wsgi.py, asgi.py) set before
# anything is created (estafette/lib/datadir.py says why a umask, and why there). The data dir of an older install is
# closed on the first start (with a log line).
BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("ESTAFETTE_DATA_DIR", str(BASE_DIR / "var"))).resolve()
make_private_dir(DATA_DIR)


# First run without a configured key: one is generated and kept in the data dir, so sessions and signed job tokens
# survive restarts, and the processes `make run` starts at once agree on it (the consumers sign the job tokens the web
# checks): of two processes generating one at the same moment, one key wins and both use it.
SECRET_KEY = env_secret_or_generated(
    "ESTAFETTE_SECRET_KEY", file=DATA_DIR / "secret-key", generate=lambda: secrets.token_urlsafe(50)
)
DEBUG = env_bool("ESTAFETTE_DEBUG", False)
HTTP_PORT = env_int("ESTAFETTE_HTTP_PORT", 8000, minimum=1, maximum=65535)
ALLOWED_HOSTS = [h.strip() for h in env_str("ESTAFETTE_ALLOWED_HOSTS", "*").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in env_str("ESTAFETTE_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]
BASE_URL = env_str("ESTAFETTE_BASE_URL", f"http://127.0.0.1:{HTTP_PORT}").rstrip("/")
ANONYMOUS_READ = env_bool("ESTAFETTE_ANONYMOUS_READ", False)
# Served over HTTPS (TLS ends at an ingress or load balancer in front, as in the Helm chart): the session and CSRF
# cookies are sent over HTTPS only, and browsers are told to use HTTPS only (HSTS) for ESTAFETTE_HSTS_SECONDS.
# Django does not redirect HTTP itself (security.W008 silenced): the kubelet's probes and the build jobs speak plain
# HTTP to the pod inside the cluster; the ingress redirects browsers. HSTS preloading is a submission to the browsers'
# lists that only the domain's owner can make (security.W021 silenced).
HTTPS = env_bool("ESTAFETTE_HTTPS", False)
if HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("ESTAFETTE_HSTS_SECONDS", 365 * 24 * 3600, minimum=1)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("ESTAFETTE_HSTS_INCLUDE_SUBDOMAINS", True)
    SILENCED_SYSTEM_CHECKS = ["security.W008", "security.W021"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "pipelines",
    "runs",
    "builds",
    "releases",
    "triggers",
    "integrations",
    "migrate_from_estafette",
    "estafette.queue",
    "estafette.apitokens",
    "estafette.access",
    "axes",
]

MIDDLEWARE = [
    # Outermost: times every answer, refusals included (HTTP latency by route for /metrics).
    "estafette.lib.http_metrics.RequestMetricsMiddleware",
    # Then every log line of the request carries its id (estafette/lib/request_ids.py).
    "estafette.lib.request_ids.RequestIdMiddleware",
    # First: refuses an oversized body (413) before anything reads it.
    "estafette.lib.body_limits.BodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Estafette's web UI sends the CSRF token as XSRF-TOKEN/X-XSRF-TOKEN (axios): passed on to Django's check.
    "estafette.lib.xsrf.XsrfTokenMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # turns a refused login into 429 (estafette.lib.login_throttle)
    # Records each successful change the API's one permission (estafette.access.permissions) authorized.
    "estafette.access.middleware.AuditMiddleware",
]
# The builder's reports (``/api/builder/``: a job token per request, JSON in and out, most of a build's requests) take
# a lean path in the WSGI application (estafette/wsgi.py): no session, CSRF, authentication (the views check the job
# token), message, clickjacking, static-file or login-throttle middleware, which they never use; authorization still
# goes through the policy table (DRF's permission, estafette.access), and the audit middleware stays.
BUILDER_PATH_PREFIX = "/api/builder/"
BUILDER_MIDDLEWARE = [
    "estafette.lib.http_metrics.RequestMetricsMiddleware",
    "estafette.lib.request_ids.RequestIdMiddleware",
    "estafette.lib.body_limits.BodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "estafette.access.middleware.AuditMiddleware",
]

ROOT_URLCONF = "estafette.urls"
WSGI_APPLICATION = "estafette.wsgi.application"
ASGI_APPLICATION = "estafette.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "estafette" / "templates"],
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

DATABASES = {"default": database_from_url(env_str("ESTAFETTE_DATABASE_URL", ""), data_dir=DATA_DIR)}
# The test suite swaps in its django-cockroachdb-on-PostgreSQL backend (tests/tooling/cockroach_backend).
_TEST_ENGINE = env_str("ESTAFETTE_TEST_DB_ENGINE", "")
if _TEST_ENGINE:
    DATABASES["default"]["ENGINE"] = _TEST_ENGINE
DISABLE_COCKROACHDB_TELEMETRY = True
# A SQLite file configured outside the data dir (ESTAFETTE_DATABASE_URL=sqlite:///…) is closed the same way; its
# -wal/-shm/-journal files take the database file's mode, less the umask.
if DATABASES["default"]["ENGINE"] == "estafette.lib.sqlite_backend":
    _sqlite_file = Path(DATABASES["default"]["NAME"])
    if DATA_DIR not in _sqlite_file.parents:
        for _suffix in ("", "-wal", "-shm", "-journal", "-writelock"):
            make_private_file(_sqlite_file.with_name(_sqlite_file.name + _suffix))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
# The server image collects the static files at build time into a read-only tree (docker/server.Dockerfile).
STATIC_ROOT = Path(env_str("ESTAFETTE_STATIC_ROOT", str(DATA_DIR / "static"))).resolve()
FRONTEND_DIST = BASE_DIR / "frontend" / "dist"
# The built web UI (`make frontend`) is served at the site root: /assets/… and /favicon.svg by
# WhiteNoise, every UI route by estafette.spa. Vite's file names carry a content hash, so those
# files may be cached forever. Unset while the UI is not built (WhiteNoise would warn).
WHITENOISE_ROOT = FRONTEND_DIST if FRONTEND_DIST.is_dir() else None
WHITENOISE_IMMUTABLE_FILE_TEST = r"^/assets/.+-[\w-]{8,}\.\w+$"
# Django's file storage (collectstatic's too) sets 0644 on every file it writes, whatever the umask: the static files
# are served by this process, nobody else needs to read them (estafette/lib/datadir.py).
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

LOGIN_URL = "/admin/login/"

# Login throttling (django-axes; estafette/lib/login_throttle.py says why axes). Both password doors, the API's
# POST /api/auth/login and the admin's /admin/login/, share one count of failures in the database.
#
# Failures count per client address AND per username, each against the limit, within the cool-off. Per address
# alone, a guesser who rotates addresses (a botnet, an IPv6 /64) could try a whole list against the admin; per
# username alone, one address could try a few passwords on every account. The price of counting per username: anyone
# can keep one account's password login closed by failing it on purpose. That is accepted, and bounded: it is a
# cool-off, not a lock (it ends by itself); attempts refused during it are not recorded, so they do not extend it
# (and a refused attempt costs no password hash); API tokens and existing sessions keep working;
# `manage.py axes_reset_username <name>` reopens it at once. A guessed admin password is worse than a login form
# closed for a quarter of an hour.
# Known limit: attempts already running when the limit is reached still finish (the count is checked before the
# password, and written after it), so a guesser with many requests in flight gets the limit plus those in flight.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked client before a password is hashed
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("ESTAFETTE_LOGIN_FAILURE_LIMIT", 10, minimum=1)
AXES_COOLOFF_TIME = timedelta(seconds=env_int("ESTAFETTE_LOGIN_COOLOFF_SECONDS", 15 * 60, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# Not reset on success: a guesser with an account of their own would log into it between guesses, and the reset
# (which deletes every failure of the same address) would wipe the count of the account under attack.
AXES_RESET_ON_SUCCESS = False
AXES_DISABLE_ACCESS_LOG = True  # a row per successful login, kept forever; Django's last_login is enough here
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "csrfmiddlewaretoken"]  # masked in axes' logs and rows
AXES_HANDLER = "estafette.lib.login_throttle.LoginThrottleHandler"
AXES_CLIENT_IP_CALLABLE = "estafette.lib.login_throttle.client_address"
AXES_LOCKOUT_CALLABLE = "estafette.lib.login_throttle.lockout_response"
# How many reverse proxies in front of the server append the client's address to X-Forwarded-For (0: none, the
# header is ignored and the connection's address counts). Only ever the number actually deployed: one more lets a
# client choose the address its failures are counted under.
TRUSTED_PROXY_COUNT = env_int("ESTAFETTE_TRUSTED_PROXY_COUNT", 0, minimum=0)

REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate challenge makes DRF answer an anonymous request with 401
    # (which the web UI handles in one place) instead of 403. API tokens are kept as digests (estafette/apitokens).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "estafette.apitokens.authentication.ApiTokenAuthentication",
        # API clients' short-lived tokens (POST /api/auth/client/login): Authorization: Bearer <jwt>.
        "estafette.access.tokens.ClientTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Every request is authorized by one permission from one table (estafette/policy.py); views set none of their own.
    "DEFAULT_PERMISSION_CLASSES": ["estafette.access.permissions.Authorized"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "estafette.lib.api.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # UTF-8 JSON nested at most estafette.lib.json_input.MAX_DEPTH deep; no form or multipart bodies.
    "DEFAULT_PARSER_CLASSES": ["estafette.lib.parsers.BoundedJSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # DRF reads X-Forwarded-For blindly unless this is set; 0 ignores it (estafette.lib.login_throttle.client_address).
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
}

# Request bodies (estafette/lib/body_limits.py): a larger Content-Length is refused with 413 before the body is read,
# a chunked body is read up to the limit. The builder's log batches (builder/reporting.py: up to 1 MiB of JSON text,
# at most ~4 MiB as UTF-8) get their own, larger limit.
MAX_REQUEST_BYTES = env_int("ESTAFETTE_MAX_REQUEST_BYTES", 1024 * 1024, minimum=16 * 1024)
MAX_LOG_BATCH_BYTES = env_int("ESTAFETTE_MAX_LOG_BATCH_BYTES", 8 * 1024 * 1024, minimum=1024 * 1024)
REQUEST_BODY_DEFAULT_LIMIT = MAX_REQUEST_BYTES
# (REQUEST_BODY_LIMITS is set below, once the integrations' settings are read: each forge's intake has its own.)

# Live log tails (runs/tail.py): each open stream holds a web worker thread (the Procfile's gunicorn runs 128 per
# worker process), so their number is capped per process, leaving threads for every other request, and per user.
# A stream over the cap is answered 503 (process) or 429 (user) with Retry-After; the web UI retries with back-off.
LIVE_TAILS_PER_PROCESS = env_int("ESTAFETTE_LIVE_TAILS_PER_PROCESS", 64, minimum=1)
LIVE_TAILS_PER_USER = env_int("ESTAFETTE_LIVE_TAILS_PER_USER", 16, minimum=1)

SPECTACULAR_SETTINGS = {
    "TITLE": "Estafette CI API",
    "DESCRIPTION": "Estafette-compatible REST API: pipelines, builds, releases, logs.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from the drf-spectacular-sidecar package: the docs page works without internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {"RoleEnum": "estafette.access.roles.ROLES"},
    # Imported only when a document is made (its import registers the description of client tokens): no process
    # holds drf-spectacular's generator before then.
    "PREPROCESSING_HOOKS": ["estafette.access.schema.with_client_tokens"],
}

# ESTAFETTE_LOG_FORMAT=json: one JSON object a line (python-json-logger), for a log collector; plain for a terminal.
# Both carry the request id of the work in hand (estafette/lib/request_ids.py).
LOG_FORMAT = env_str("ESTAFETTE_LOG_FORMAT", "plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"ESTAFETTE_LOG_FORMAT is plain or json, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "estafette.lib.request_ids.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id"]}},
    "root": {"handlers": ["console"], "level": env_str("ESTAFETTE_LOG_LEVEL", "INFO").upper()},
    # axes logs two INFO lines per login attempt; its warnings (a failure, a lockout) are the ones worth keeping.
    "loggers": {"axes": {"level": "WARNING"}},
}

# Queue: NATS JetStream (estafette/queue). Without ESTAFETTE_NATS_URL, `make run` starts a local
# nats-server on ESTAFETTE_NATS_PORT with its store in the data dir. Every client authenticates: a user and password,
# generated into the data dir for the local server (estafette/lib/natsauth.py). NATS_URL never carries them.
NATS_PORT = env_int("ESTAFETTE_NATS_PORT", 4222, minimum=1, maximum=65535)
_NATS = nats_connection_from_env(data_dir=DATA_DIR, port=NATS_PORT)
NATS_URL = _NATS.url
NATS_EXTERNAL_URL = NATS_URL if _NATS.external else ""
NATS_USER = _NATS.user
NATS_PASSWORD = _NATS.password
NATS_STREAM = env_str("ESTAFETTE_NATS_STREAM", "ESTAFETTE")
NATS_STREAM_MAX_AGE_SECONDS = env_int("ESTAFETTE_NATS_STREAM_MAX_AGE_SECONDS", 7 * 24 * 3600, minimum=60)
NATS_DUPLICATE_WINDOW_SECONDS = env_int("ESTAFETTE_NATS_DUPLICATE_WINDOW_SECONDS", 600, minimum=1)
NATS_ACK_WAIT_SECONDS = env_int("ESTAFETTE_NATS_ACK_WAIT_SECONDS", 60, minimum=1)
NATS_MAX_DELIVER = env_int("ESTAFETTE_NATS_MAX_DELIVER", 5, minimum=1)
NATS_CONSUMER_LOOKBACK_SECONDS = env_int("ESTAFETTE_NATS_CONSUMER_LOOKBACK_SECONDS", 3600, minimum=0)
OUTBOX_POLL_INTERVAL_MS = env_int("ESTAFETTE_OUTBOX_POLL_INTERVAL_MS", 50, minimum=1)
OUTBOX_LEASE_SECONDS = env_int("ESTAFETTE_OUTBOX_LEASE_SECONDS", 30, minimum=1)
OUTBOX_RETENTION_SECONDS = env_int("ESTAFETTE_OUTBOX_RETENTION_SECONDS", 24 * 3600, minimum=60)
# Web workers and consumers publish their own outbox rows right after commit (relay_outbox stays the safety net).
OUTBOX_RELAY_IN_PROCESS = env_bool("ESTAFETTE_OUTBOX_RELAY_IN_PROCESS", True)

# Jobs (estafette/jobs): where builder jobs run.
JOB_RUNNER = env_choice("ESTAFETTE_JOB_RUNNER", "local", ("local", "kubernetes"))
JOB_CANCEL_GRACE_SECONDS = env_int("ESTAFETTE_JOB_CANCEL_GRACE_SECONDS", 120, minimum=1)
LOCAL_JOB_COMMAND = env_str("ESTAFETTE_LOCAL_JOB_COMMAND", "")  # default: python -m builder job --config {config} …
# Pre-started builders per server process that launch local jobs in milliseconds (0: every job starts cold).
LOCAL_JOB_STANDBYS = env_int("ESTAFETTE_LOCAL_JOB_STANDBYS", 1, minimum=0)
# Local jobs on the host executor run stages in a sandbox (builder/executors/sandbox.py); where none can be made, a
# build is refused unless this is true: then its stages run unsandboxed, as the server's user, seeing what it sees.
HOST_EXECUTOR_UNSANDBOXED = env_bool("ESTAFETTE_HOST_EXECUTOR_UNSANDBOXED", False)
CONFIG_FILE = env_str("ESTAFETTE_CONFIG_FILE", "")
BUILDER_IMAGE_REPOSITORY = "estafette/estafette-ci-builder-python"
# The manifest templates of the "generate a manifest" page (manifest-<name>.tmpl, Estafette's TEMPLATES_PATH).
MANIFEST_TEMPLATES_DIR = env_str("ESTAFETTE_MANIFEST_TEMPLATES_DIR", str(BASE_DIR / "pipelines" / "manifest_templates"))
# What jobs request (Kubernetes quantities, e.g. "1" and "2Gi"), as the operator set them for the jobs' namespace: the
# right-sizing hints (runs.hints) compare the measured use with them. Empty: unknown, the hints only suggest values.
JOB_CPU_REQUEST = env_str("ESTAFETTE_JOB_CPU_REQUEST", "")
JOB_MEMORY_REQUEST = env_str("ESTAFETTE_JOB_MEMORY_REQUEST", "")
JOBS_NAMESPACE = env_str("ESTAFETTE_JOBS_NAMESPACE", "estafette-ci-jobs")
JOBS_SERVICE_ACCOUNT = env_str("ESTAFETTE_JOBS_SERVICE_ACCOUNT", "estafette-ci-builder")
# The image docker/builder.Dockerfile makes (`make images` tags it with the builder's version).
JOBS_BUILDER_IMAGE = env_str("ESTAFETTE_JOBS_BUILDER_IMAGE", f"{BUILDER_IMAGE_REPOSITORY}:{builder_version}")
JOBS_BACKOFF_LIMIT = env_int("ESTAFETTE_JOBS_BACKOFF_LIMIT", 2, minimum=0)
JOBS_AFFINITY = env_json("ESTAFETTE_JOBS_AFFINITY", {})  # a Kubernetes Affinity, for every job pod
JOBS_TOLERATIONS = env_json("ESTAFETTE_JOBS_TOLERATIONS", [])  # a list of Kubernetes Tolerations
# Job pods in a user namespace of their own (hostUsers: false, procMount: Unmasked), which the builder's sandbox needs
# (estafette/jobs/kubernetes.py); false on clusters without user namespaces for pods (before Kubernetes 1.33).
JOBS_USER_NAMESPACES = env_bool("ESTAFETTE_JOBS_USER_NAMESPACES", True)
KUBECONFIG = env_str("ESTAFETTE_KUBECONFIG", "")  # empty: the in-cluster service account
# Dead jobs (runs/sweeper.py, `manage.py sweep_jobs`): a run whose builder is quiet for CHECK_AFTER seconds is
# looked up in the job runner (failed at once when its job ended), and failed after HEARTBEAT_TIMEOUT seconds anyway.
JOB_HEARTBEAT_TIMEOUT_SECONDS = env_int("ESTAFETTE_JOB_HEARTBEAT_TIMEOUT_SECONDS", 60, minimum=1)
JOB_CHECK_AFTER_SECONDS = env_int("ESTAFETTE_JOB_CHECK_AFTER_SECONDS", 20, minimum=0)
JOB_START_TIMEOUT_SECONDS = env_int("ESTAFETTE_JOB_START_TIMEOUT_SECONDS", 6 * 3600, minimum=60)
JOB_CLEANUP_GRACE_SECONDS = env_int("ESTAFETTE_JOB_CLEANUP_GRACE_SECONDS", 30, minimum=0)
JOB_SWEEP_INTERVAL_SECONDS = env_int("ESTAFETTE_JOB_SWEEP_INTERVAL_SECONDS", 5, minimum=1)

# Intake, triggers and jobs' secrets (triggers/, integrations/, runs/dispatch.py).
# Git webhooks are refused (401) until a secret is set; the sender signs each body with it.
GIT_WEBHOOK_SECRET = env_secret("ESTAFETTE_GIT_WEBHOOK_SECRET") or ""
# Where a git webhook may name a repository on this machine (a path or file:// URL), colon-separated; none by
# default, so a webhook cannot make the server read checkouts on the host. `manage.py push_event` takes any path.
LOCAL_REPOSITORY_ROOTS = env_paths("ESTAFETTE_LOCAL_REPOSITORY_ROOTS")
# Google Pub/Sub push subscriptions and Docker registry notifications authenticate with a token
# (`?token=` or `Authorization: Bearer`); unset refuses them.
PUBSUB_TOKEN = env_secret("ESTAFETTE_PUBSUB_TOKEN") or ""
PUBSUB_SUBSCRIPTION_SUFFIX = env_str("ESTAFETTE_PUBSUB_SUBSCRIPTION_SUFFIX", "~estafette-ci-pubsub-trigger")
DOCKER_WEBHOOK_TOKEN = env_secret("ESTAFETTE_DOCKER_WEBHOOK_TOKEN") or ""


def _new_secret_decryption_key() -> str:
    import base64

    return base64.b64encode(secrets.token_bytes(32)).decode()


# The installation key of `estafette.secret(...)` envelopes (ESTAFETTE.md §6): 32 characters, or the
# base64 of 32 bytes. Generated into the data dir on first run; jobs never receive it.
SECRET_DECRYPTION_KEY = env_secret_or_generated(
    "ESTAFETTE_SECRET_DECRYPTION_KEY", file=DATA_DIR / "secret-decryption-key", generate=_new_secret_decryption_key
)
# The URL jobs call back on (Estafette's apiServer.serviceURL); the web UI's ESTAFETTE_BASE_URL by default.
SERVICE_URL = env_str("ESTAFETTE_SERVICE_URL", BASE_URL).rstrip("/")
# GET /metrics (estafette/metrics_view.py): with a token, a scrape sends `Authorization: Bearer <token>`; without one,
# only clients on this machine not behind a proxy are answered.
METRICS_TOKEN = env_secret("ESTAFETTE_METRICS_TOKEN") or ""
# A worker process (consume, relay_outbox, sweep_jobs --every) serves its own /metrics on this port: the chart sets it,
# since the API's /metrics cannot sum processes of other pods (estafette/lib/metrics_server.py). 0: none.
METRICS_PORT = env_int("ESTAFETTE_METRICS_PORT", 0, minimum=0, maximum=65535)
METRICS_ADDRESS = env_str("ESTAFETTE_METRICS_ADDRESS", "0.0.0.0")  # noqa: S104 — a pod's port; the token guards it
# prometheus-client's multiprocess mode (estafette/lib/metrics.py) writes into this directory from the first metric a
# process creates, and fails if it is missing: made here (owner-only) before any app defines one.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    make_private_dir(Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]))
# What the sweeper asks before failing a run for its builder's silence (runs/sweeper.py ApiWatch): while the API jobs
# report to does not answer, their silence proves nothing. Empty: not asked.
SWEEPER_API_PROBE_URL = env_str("ESTAFETTE_SWEEPER_API_PROBE_URL", f"{SERVICE_URL}/liveness")
GIT_CACHE_DIR = DATA_DIR / "git-cache"
# Credentials, trusted images and manifest preferences (estafette/lib/server_config.py documents the file).
_SERVER_CONFIG = read_server_config(CONFIG_FILE)
CREDENTIALS = _SERVER_CONFIG.credentials
TRUSTED_IMAGES = _SERVER_CONFIG.trusted_images
CATALOG_FILTERS = _SERVER_CONFIG.catalog_filters
# The delivery insights' production targets, rollback actions, hotfix branches and failure window (the file's
# ``insights``; releases/insights.py); the defaults when the file sets none.
INSIGHTS = _SERVER_CONFIG.insights
MANIFEST_PREFERENCES = check_manifest_preferences(
    env_json("ESTAFETTE_MANIFEST_PREFERENCES", _SERVER_CONFIG.manifest_preferences),
    where="ESTAFETTE_MANIFEST_PREFERENCES",
)

# The GitHub App (integrations/github): its webhook deliveries are refused (401) until the secret is set; pushes need
# the app's id and private key (PEM) to read manifests, clone and set commit statuses. Each variable overrides the
# config file's `integrations.github` (appId, privateKeyFile, webhookSecret, apiUrl).
_GITHUB = _SERVER_CONFIG.integration("github")
GITHUB_WEBHOOK_SECRET = env_secret("ESTAFETTE_GITHUB_WEBHOOK_SECRET") or _GITHUB.get("webhookSecret", "")
GITHUB_APP_ID = env_str("ESTAFETTE_GITHUB_APP_ID", _GITHUB.get("appId", "")).strip()
GITHUB_APP_PRIVATE_KEY = (
    env_secret(
        "ESTAFETTE_GITHUB_APP_PRIVATE_KEY",
        environ={"ESTAFETTE_GITHUB_APP_PRIVATE_KEY_FILE": _GITHUB.get("privateKeyFile", ""), **os.environ},
    )
    or ""
)
# GitHub Enterprise Server: https://<host>/api/v3. The host of this URL (github.com for api.github.com) is the GitHub
# whose repositories the app builds: a delivery naming another host is refused.
GITHUB_API_URL = env_str("ESTAFETTE_GITHUB_API_URL", _GITHUB.get("apiUrl", "https://api.github.com")).rstrip("/")
# Each forge's intake takes bodies as large as that forge sends (its documented limit), configurable; every other route,
# the generic git intake included, keeps ESTAFETTE_MAX_REQUEST_BYTES. GitHub caps a delivery at 25 MB.
GITHUB_MAX_DELIVERY_BYTES = env_int(
    "ESTAFETTE_GITHUB_MAX_DELIVERY_BYTES", int(_GITHUB.get("maxDeliveryBytes") or 25 * 1024 * 1024), minimum=16 * 1024
)
# The Bitbucket Cloud Connect app (integrations/bitbucket): installations (their client key and shared secret) arrive
# through its lifecycle callbacks; events are verified with the installation's shared secret. Each variable overrides
# the config file's `integrations.bitbucket` (appKey, apiUrl, webUrl, maxEventBytes).
_BITBUCKET = _SERVER_CONFIG.integration("bitbucket")
# The app's key: the descriptor's `key`, the issuer of the tokens the app signs to ask for access tokens.
BITBUCKET_APP_KEY = env_str("ESTAFETTE_BITBUCKET_APP_KEY", _BITBUCKET.get("appKey", "estafette-ci")).strip()
BITBUCKET_API_URL = env_str("ESTAFETTE_BITBUCKET_API_URL", _BITBUCKET.get("apiUrl", "https://api.bitbucket.org"))
BITBUCKET_API_URL = BITBUCKET_API_URL.rstrip("/")
# Bitbucket's own site: the repositories' host (a delivery naming another is refused) and its OAuth token endpoint.
BITBUCKET_URL = env_str("ESTAFETTE_BITBUCKET_URL", _BITBUCKET.get("webUrl", "https://bitbucket.org")).rstrip("/")
# Bitbucket Cloud sends webhook payloads of at most 256 KB.
BITBUCKET_MAX_EVENT_BYTES = env_int(
    "ESTAFETTE_BITBUCKET_MAX_EVENT_BYTES", int(_BITBUCKET.get("maxEventBytes") or 256 * 1024), minimum=16 * 1024
)
REQUEST_BODY_LIMITS = [
    # a batch, or the last one with the final status (a few hundred bytes more than a batch: the builder's batches
    # stay far below this limit)
    (r"^/api/builder/v1/[^/]+/[^/]+/(logs|end)$", MAX_LOG_BATCH_BYTES),
    (r"^/api/integrations/github/events$", GITHUB_MAX_DELIVERY_BYTES),
    (r"^/api/integrations/bitbucket/", BITBUCKET_MAX_EVENT_BYTES),
]
# Django's own check (a 400 page) must never fire before the middleware's 413: it allows the largest route limit.
DATA_UPLOAD_MAX_MEMORY_SIZE = max([MAX_REQUEST_BYTES, *(limit for _, limit in REQUEST_BODY_LIMITS)])
# The Slack app (integrations/slack): slash commands are refused (401) until the signing secret is set; looking up who
# typed a command and posting failure/recovery notices need the bot token. Each variable overrides the config file's
# `integrations.slack` (signingSecret, botToken, apiUrl, channels).
_SLACK = _SERVER_CONFIG.integration("slack")
SLACK_SIGNING_SECRET = env_secret("ESTAFETTE_SLACK_SIGNING_SECRET") or _SLACK.get("signingSecret", "")
SLACK_BOT_TOKEN = env_secret("ESTAFETTE_SLACK_BOT_TOKEN") or _SLACK.get("botToken", "")
# Where the replies to a command may go: its response_url must start with this (Slack's hooks; tests use their own).
SLACK_RESPONSE_URL_PREFIX = env_str("ESTAFETTE_SLACK_RESPONSE_URL_PREFIX", "https://hooks.slack.com/")
SLACK_API_URL = env_str("ESTAFETTE_SLACK_API_URL", _SLACK.get("apiUrl", "https://slack.com/api")).rstrip("/")
# [{"pipelines": <regex>, "channel": <channel>}]: where the notices of the pipelines each regex matches go (a
# pipeline's label slack-channel wins).
SLACK_CHANNELS = check_slack_channels(
    env_json("ESTAFETTE_SLACK_CHANNELS", _SLACK.get("channels", [])), where="ESTAFETTE_SLACK_CHANNELS"
)
# Google Cloud Source Repositories through Pub/Sub push (integrations/cloudsource): pushes are refused (401) until the
# audience is set; each carries Google's OIDC token for that audience, of the push subscription's service account.
_CLOUDSOURCE = _SERVER_CONFIG.integration("cloudsource")
CLOUDSOURCE_AUDIENCE = env_str("ESTAFETTE_CLOUDSOURCE_AUDIENCE", _CLOUDSOURCE.get("audience", "")).strip()
CLOUDSOURCE_SERVICE_ACCOUNT_EMAIL = env_str(
    "ESTAFETTE_CLOUDSOURCE_SERVICE_ACCOUNT_EMAIL", _CLOUDSOURCE.get("serviceAccountEmail", "")
).strip()
CLOUDSOURCE_DISCOVERY_URL = env_str(
    "ESTAFETTE_CLOUDSOURCE_DISCOVERY_URL",
    _CLOUDSOURCE.get("discoveryUrl", "https://accounts.google.com/.well-known/openid-configuration"),
).strip()
CLOUDSOURCE_GIT_URL = env_str(
    "ESTAFETTE_CLOUDSOURCE_GIT_URL", _CLOUDSOURCE.get("gitUrl", "https://source.developers.google.com")
).rstrip("/")
# Identity and access (estafette/access/): the policy table, API clients' tokens, the audit trail and login providers.
ACCESS_POLICY = "estafette.policy.POLICY"
# A client token's lifetime (POST /api/auth/client/login); clients log in again when it ends.
CLIENT_TOKEN_SECONDS = env_int("ESTAFETTE_CLIENT_TOKEN_SECONDS", 3600, minimum=60)
# The key client tokens are signed with; empty: derived from ESTAFETTE_SECRET_KEY (for this use only).
CLIENT_JWT_KEY = env_secret("ESTAFETTE_CLIENT_JWT_KEY") or ""
# How long audit entries are kept; `manage.py sweep_audit` removes older ones: every
# ESTAFETTE_AUDIT_SWEEP_INTERVAL_SECONDS in the Procfile's `audit` process (`make run`), daily from the Helm chart's
# CronJob.
AUDIT_RETENTION_DAYS = env_int("ESTAFETTE_AUDIT_RETENTION_DAYS", 365, minimum=1)
AUDIT_SWEEP_INTERVAL_SECONDS = env_int("ESTAFETTE_AUDIT_SWEEP_INTERVAL_SECONDS", 3600, minimum=1)
from estafette.access.config import auth_config_from_dict  # noqa: E402 - needs the server configuration read above

AUTH = auth_config_from_dict(
    _SERVER_CONFIG.auth,
    where=f"ESTAFETTE_CONFIG_FILE {CONFIG_FILE}: auth",
    decryption_key=SECRET_DECRYPTION_KEY,
)
ACCESS_ADMINISTRATORS = AUTH.administrators

if not SECRET_KEY:
    raise ImproperlyConfigured("ESTAFETTE_SECRET_KEY is empty")
try:
    from builder.secrets import SecretError, parse_key

    parse_key(SECRET_DECRYPTION_KEY)
except SecretError as _error:
    raise ImproperlyConfigured(f"ESTAFETTE_SECRET_DECRYPTION_KEY: {_error}") from None
