"""Settings for the aggregator, read from the environment (12-factor, django-environ).

Every variable is listed in docs/operations.md and `.env.example`. A `.env` file beside manage.py is read
when present; real environment variables win over it. A bad value stops the process at once with
a one-line message that names the variable (see `aggregator.config`).
"""

import importlib.util
from datetime import timedelta
from pathlib import Path

from corsheaders.defaults import default_headers as cors_default_headers

from aggregator.config import (
    ConfigError,
    env,
    read_bool,
    read_cache,
    read_database,
    read_delays,
    read_int,
    read_list,
    read_networks,
    read_rate,
    read_str,
    require_currency,
    require_secret_key,
)

BASE_DIR = Path(__file__).resolve().parent.parent
if (BASE_DIR / ".env").exists():  # containers have none; don't log its absence at every start
    env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = read_bool("DEBUG", False)
SECRET_KEY = require_secret_key(debug=DEBUG)
ALLOWED_HOSTS = read_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1"])
# Render sets this on web services to the service's public name (render.yaml, docs/deploy.md).
if _render_host := read_str("RENDER_EXTERNAL_HOSTNAME", ""):
    ALLOWED_HOSTS.append(_render_host)
CSRF_TRUSTED_ORIGINS = read_list("CSRF_TRUSTED_ORIGINS", [])
# The currency of every price (ISO 4217): the offers service reports bare integers in minor units.
CURRENCY = require_currency("CURRENCY")

# HTTPS, for production behind a TLS-terminating proxy (docs: Operations; `.env.production.example`).
# Everything is off by default so that `make run` and the compose demo work over plain http on
# localhost; `manage.py check --deploy` names whatever production still needs.
# The header the proxy sets to "https", e.g. X-Forwarded-Proto. Only set it when the proxy always
# overwrites that header: otherwise a client could claim HTTPS on a plain connection.
_proxy_ssl_header = read_str("SECURE_PROXY_SSL_HEADER", "")
if _proxy_ssl_header:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_ssl_header.upper().replace("-", "_"), "https")
SECURE_SSL_REDIRECT = read_bool("SECURE_SSL_REDIRECT", False)
# Load balancers, container health checks and Prometheus ask over plain http inside the network.
SECURE_REDIRECT_EXEMPT = [r"^health$", r"^metrics$"]
# A site that only speaks HTTPS has no reason to send its cookies over http.
SESSION_COOKIE_SECURE = read_bool("SESSION_COOKIE_SECURE", SECURE_SSL_REDIRECT)
CSRF_COOKIE_SECURE = read_bool("CSRF_COOKIE_SECURE", SECURE_SSL_REDIRECT)
# Browsers remember HSTS for this long and refuse http meanwhile: start small when first enabling it.
SECURE_HSTS_SECONDS = read_int("SECURE_HSTS_SECONDS", 0, minimum=0, maximum=2 * 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = read_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = read_bool("SECURE_HSTS_PRELOAD", False)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    # Trigram search index (catalogue); its operator class in index expressions needs the app.
    "django.contrib.postgres",
    "corsheaders",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "import_export",
    "aggregator",
    "catalogue",
    "offers_sync",
    "price_history",
    "idempotency",
    "alerts",
]
# Development tools (the fake offers service and `manage.py run_fake_offers`, docs/development.md):
# for `make run`, the tests and the benchmarks. Images leave the package out, so asking for it
# there stops the start with a message instead of an import traceback.
DEV_TOOLS = read_bool("DEV_TOOLS", False)
if DEV_TOOLS:
    if importlib.util.find_spec("devtools") is None:
        raise ConfigError("DEV_TOOLS is true, but this installation has no devtools package (images leave it out)")
    INSTALLED_APPS.append("devtools")

MIDDLEWARE = [
    # First, so that every answer is counted and timed, and every log line has the request's id.
    "aggregator.metrics.HttpMetricsMiddleware",
    "aggregator.log_context.RequestIdMiddleware",
    # Cache-Control and Vary on every answer, then CORS (aggregator.http_cache): before anything
    # that may answer by itself, so that those answers get their headers too.
    "aggregator.http_cache.CacheHeadersMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "aggregator.middleware.RejectNulCharactersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # ETag (a hash of the body) on GET answers, and 304 for a matching If-None-Match. Before
    # CommonMiddleware, which would give a 304 made inside it a Content-Length of 0.
    "django.middleware.http.ConditionalGetMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "aggregator.middleware.DatabaseUnavailableMiddleware",
]

# The admin's messages live in its session. The default also tries a signed cookie first, which
# every request, API calls included, pays for by building a signer.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

ROOT_URLCONF = "aggregator.urls"
WSGI_APPLICATION = "aggregator.wsgi.application"
# The API's paths have no trailing slash; redirecting a POST would lose its body.
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

DATABASES = {"default": read_database("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# Seconds any one statement of the web process may run on PostgreSQL before it is cancelled (a 503);
# 0 for no bound. The workers and management commands are not bound (aggregator.statement_timeout).
WEB_STATEMENT_TIMEOUT = read_int("WEB_STATEMENT_TIMEOUT", 5, minimum=0, maximum=3600)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Times to the second in the admin (aggregator/formats/en/formats.py).
FORMAT_MODULE_PATH = "aggregator.formats"

STATIC_URL = "static/"
# Where collectstatic puts the files and whitenoise serves them from; the image collects them at
# build time into the default. The web process will not start without them (aggregator.startup).
STATIC_ROOT = Path(read_str("STATIC_ROOT", "") or BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Request bodies over 1 MiB are refused (413 from the API, see aggregator.exceptions).
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["aggregator.authentication.ThrottledTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    # DRF's JSONRenderer output, written by orjson (see aggregator.renderers).
    "DEFAULT_RENDERER_CLASSES": ["aggregator.renderers.FastJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["aggregator.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "aggregator.exceptions.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["aggregator.throttling.AnonReadThrottle", "aggregator.throttling.WriteThrottle"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}

# Throttling (docs/robustness.md): 429 with Retry-After past these rates; "off" (or empty) disables
# one. Reads with a token are never throttled. Counters are per process unless THROTTLE_CACHE_URL
# names a shared cache (e.g. dbcache://aggregator_throttle after `manage.py createcachetable`).
# Writes allow a consumer's normal work: bursts of creates, bulk loads (a bulk request counts once).
DEFAULT_ANON_READ_RATE = "600/minute"
DEFAULT_WRITE_RATE = "3000/minute"
THROTTLE_RATES = {
    "anon_read": read_rate("THROTTLE_ANON_READ_RATE", DEFAULT_ANON_READ_RATE),
    "write": read_rate("THROTTLE_WRITE_RATE", DEFAULT_WRITE_RATE),
}

# Client addresses, failed authentications, the admin's lockout (docs/robustness.md#security).
# X-Forwarded-For is read only on connections from these proxies (addresses or CIDR networks);
# by default nobody's, so every client counts by its connection's address. Then the client is
# the address TRUSTED_PROXY_HOPS entries from the right, as DRF's NUM_PROXIES reads it
# (aggregator.client_address wraps DRF's get_ident with the connection check).
TRUSTED_PROXY_NETWORKS = read_networks("TRUSTED_PROXY_NETWORKS")
TRUSTED_PROXY_HOPS = read_int("TRUSTED_PROXY_HOPS", 1, minimum=1, maximum=10)
REST_FRAMEWORK["NUM_PROXIES"] = TRUSTED_PROXY_HOPS if TRUSTED_PROXY_NETWORKS else 0
# THROTTLE_TRUSTED_PROXIES (X-Forwarded-For believed from any connection) is not read. 0, no proxy,
# is accepted; a hop count stops the start, rather than be taken without the proxies' addresses
# (every client would count as the proxy) or beside TRUSTED_PROXY_* (which would win?).
if read_int("THROTTLE_TRUSTED_PROXIES", 0, minimum=0, maximum=10):
    raise ConfigError(
        "THROTTLE_TRUSTED_PROXIES is replaced by TRUSTED_PROXY_NETWORKS (the proxies' addresses or "
        "networks) and TRUSTED_PROXY_HOPS (see docs/operations.md)"
    )
# Requests with a wrong or unknown token, per client address: past the rate, 429 for every token
# from that address until the window has passed (aggregator.authentication).
THROTTLE_RATES["failed_auth"] = read_rate("THROTTLE_FAILED_AUTH_RATE", "20/minute")
# The admin's login (django-axes): after ADMIN_LOGIN_FAILURE_LIMIT wrong passwords for one
# username, from any addresses, or from one address, for any usernames, that username (that
# address) is refused (429) for ADMIN_LOGIN_LOCKOUT_MINUTES: many addresses cannot share the
# guessing of one password, nor one address spread it over many accounts.
# Attempts are rows in the database, so every process and container sees the same count.
INSTALLED_APPS.append("axes")
# Last, as axes asks: it turns a lockout signalled during the view into its 429 answer.
MIDDLEWARE.append("axes.middleware.AxesMiddleware")
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = read_int("ADMIN_LOGIN_FAILURE_LIMIT", 5, minimum=1, maximum=1000)
AXES_COOLOFF_TIME = timedelta(minutes=read_int("ADMIN_LOGIN_LOCKOUT_MINUTES", 15, minimum=1, maximum=7 * 24 * 60))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_CLIENT_IP_CALLABLE = "aggregator.client_address.client_address"
AXES_RESET_ON_SUCCESS = True
# Not a line at every process start (the worker's health check starts one every 30 s).
AXES_VERBOSE = False
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "throttle": read_cache("THROTTLE_CACHE_URL", "locmemcache://throttle"),
}

# The admin's product import needs `add` (every row makes a new product; none is updated), export
# `view`; without these settings django-import-export lets any staff user do both.
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "add"
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"

SPECTACULAR_SETTINGS = {
    "TITLE": "Aggregator API",
    "DESCRIPTION": (
        "Product catalogue with a local mirror of each product's offers from the offers service. "
        "Reads are public; writes need `Authorization: Token <key>`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Two models have a `kind`: the price events' keeps the name it always had.
    "ENUM_NAME_OVERRIDES": {
        "KindEnum": "price_history.models.PriceEvent.Kind",
        "AlertKindEnum": "alerts.models.AlertKind",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "aggregator.schema.document_retry_after",
        "aggregator.schema.document_nul_refusal",
        "aggregator.schema.document_conditional_get",
        "aggregator.schema.require_request_bodies",
    ],
}

# Caching of public reads by browsers, proxies and CDNs (aggregator.http_cache, docs/api.md#caching).
# A shared cache keeps an answer HTTP_CACHE_MAX_AGE seconds; a few seconds is small beside the
# sync's own interval (SYNC_SCHEDULE, 30 s by default), which already makes the mirror that old.
HTTP_CACHE_MAX_AGE = read_int("HTTP_CACHE_MAX_AGE", 5, minimum=0, maximum=86400)
# Past that, a cache may answer from its copy while it fetches a new one in the background ...
HTTP_CACHE_STALE_WHILE_REVALIDATE = read_int("HTTP_CACHE_STALE_WHILE_REVALIDATE", 5, minimum=0, maximum=86400)
# ... or while the service answers errors or not at all (a web restart, a database outage).
HTTP_CACHE_STALE_IF_ERROR = read_int("HTTP_CACHE_STALE_IF_ERROR", 300, minimum=0, maximum=7 * 86400)
# CORS (django-cors-headers): any origin reads without a token (aggregator.http_cache); these
# origins (scheme://host[:port]) may also send a token and write. The API takes no cookies.
CORS_URLS_REGEX = r"^/(?!admin/|metrics$|static/).*$"
CORS_ALLOWED_ORIGINS = read_list("CORS_TOKEN_ORIGINS", [])
CORS_ALLOW_HEADERS = (*cors_default_headers, "idempotency-key", "if-none-match", "x-request-id")
CORS_EXPOSE_HEADERS = ["ETag", "Link", "Location", "Retry-After", "X-Request-ID"]
# How long a browser may reuse a preflight's answer (Chromium keeps one at most 2 hours).
CORS_PREFLIGHT_MAX_AGE = read_int("CORS_PREFLIGHT_MAX_AGE", 7200, minimum=0, maximum=86400)

# The offers service (see docs/sync.md).
OFFERS_SERVICE_URL = read_str("OFFERS_SERVICE_URL", "").rstrip("/")
OFFERS_REFRESH_TOKEN = read_str("OFFERS_REFRESH_TOKEN", "")
SYNC_SCHEDULE = read_str("SYNC_SCHEDULE", "*/30 * * * * *")
SYNC_CONCURRENCY = read_int("SYNC_CONCURRENCY", 16, minimum=1, maximum=256)
# Seconds one call to the offers service may take in the worker, connecting, headers and body
# together; a product's fetch (its retries included) gets twice this (docs/sync.md, "Deadlines").
OFFERS_TIMEOUT = read_int("OFFERS_TIMEOUT", 10, minimum=1, maximum=120)
# Price events older than this many days are pruned (hourly by the worker, or
# `manage.py prune_price_history`); 0 keeps them forever.
PRICE_HISTORY_DAYS = read_int("PRICE_HISTORY_DAYS", 365, minimum=0, maximum=36500)
# Record price events as offers change (the history and trend endpoints read them).
PRICE_HISTORY_ENABLED = read_bool("PRICE_HISTORY_ENABLED", True)
# A price trend replays its period's events one by one: a period holding more is refused (400).
PRICE_TREND_MAX_EVENTS = read_int("PRICE_TREND_MAX_EVENTS", 100_000, minimum=1000, maximum=10_000_000)
# Each offer's prior price is its lowest price in this many days before its current price took
# effect (the EU's price-reduction rule says 30). Worked out from the price history when it changes.
PRIOR_PRICE_DAYS = read_int("PRIOR_PRICE_DAYS", 30, minimum=1, maximum=3650)
# Liveness of a worker container (`run_sync --check`): the file its worker beats, and how old a beat may be.
SYNC_HEARTBEAT_FILE = read_str("SYNC_HEARTBEAT_FILE", "/tmp/aggregator-sync-heartbeat")
SYNC_HEARTBEAT_MAX_AGE = read_int("SYNC_HEARTBEAT_MAX_AGE", 60, minimum=5, maximum=86400)

# One row per sync cycle of each worker (offers_sync.SyncRun), pruned hourly by the worker; 0 keeps them all.
SYNC_RUNS_DAYS = read_int("SYNC_RUNS_DAYS", 30, minimum=0, maximum=36500)

# Prometheus metrics (docs/operations.md, "Metrics"). GET /metrics on the web answers 404 unless
# METRICS_TOKEN is set, and then only to `Authorization: Bearer <METRICS_TOKEN>`; each sync worker
# serves its own on SYNC_METRICS_ADDRESS:SYNC_METRICS_PORT (no listener while the port is unset).
METRICS_TOKEN = read_str("METRICS_TOKEN", "")
SYNC_METRICS_PORT = read_int("SYNC_METRICS_PORT", 0, minimum=0, maximum=65535)
SYNC_METRICS_ADDRESS = read_str("SYNC_METRICS_ADDRESS", "0.0.0.0")

# Webhook deliveries of alerts (docs/alerts.md).
# Seconds a receiver has to answer 2xx; slower counts as a failed attempt.
WEBHOOK_TIMEOUT = read_int("WEBHOOK_TIMEOUT", 10, minimum=1, maximum=60)
# Seconds to wait before each retry of a failed attempt; after the last one the delivery is failed.
WEBHOOK_RETRY_DELAYS = read_delays("WEBHOOK_RETRY_DELAYS", "5,30,120,600,1800,7200,21600")
# An endpoint whose every attempt failed for this many hours is disabled.
WEBHOOK_DISABLE_AFTER_HOURS = read_int("WEBHOOK_DISABLE_AFTER_HOURS", 24, minimum=1, maximum=24 * 365)
# Allow endpoints on loopback, private, link-local and other non-public addresses (local demos, tests).
WEBHOOK_ALLOW_PRIVATE_NETWORKS = read_bool("WEBHOOK_ALLOW_PRIVATE_NETWORKS", False)
# Finished deliveries (delivered or failed), their attempts and the events left without a delivery
# are kept this many days, pruned hourly by the run_webhooks workers; 0 keeps them all.
WEBHOOK_HISTORY_DAYS = read_int("WEBHOOK_HISTORY_DAYS", 30, minimum=0, maximum=36500)
# Per-user limits (docs/alerts.md): past one, creating another is refused with 409 naming it.
WEBHOOK_ENDPOINTS_PER_USER = read_int("WEBHOOK_ENDPOINTS_PER_USER", 50, minimum=1, maximum=100_000)
ALERTS_PER_USER = read_int("ALERTS_PER_USER", 1000, minimum=1, maximum=1_000_000)
EVERY_PRODUCT_ALERTS_PER_USER = read_int("EVERY_PRODUCT_ALERTS_PER_USER", 10, minimum=0, maximum=10_000)
# Events one every-product alert writes per sync batch; the products past it are named in the last
# event's `also_fired_for` instead of having an event each.
EVERY_PRODUCT_ALERT_EVENTS_PER_BATCH = read_int("EVERY_PRODUCT_ALERT_EVENTS_PER_BATCH", 10, minimum=1, maximum=10_000)
# Deliveries one run_webhooks process sends at once (a thread pool).
WEBHOOK_CONCURRENCY = read_int("WEBHOOK_CONCURRENCY", 16, minimum=1, maximum=256)
# Each run_webhooks worker serves its metrics on WEBHOOK_METRICS_ADDRESS:WEBHOOK_METRICS_PORT
# (no listener while the port is unset), to METRICS_TOKEN like the web's /metrics.
WEBHOOK_METRICS_PORT = read_int("WEBHOOK_METRICS_PORT", 0, minimum=0, maximum=65535)
WEBHOOK_METRICS_ADDRESS = read_str("WEBHOOK_METRICS_ADDRESS", "0.0.0.0")

LOG_LEVEL = read_str("LOG_LEVEL", "INFO").upper()
LOG_FORMAT = read_str("LOG_FORMAT", "text").lower()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ConfigError("LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
if LOG_FORMAT not in {"text", "json"}:
    raise ConfigError("LOG_FORMAT must be 'text' or 'json'")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Every line written while a request (or a sync cycle) is handled carries its id: a
    # `request_id` (`cycle_id`) key in JSON, " request_id=…" after the message in text.
    "filters": {"log_context": {"()": "aggregator.log_context.LogContextFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s%(log_context)s"},
        "json": {"()": "aggregator.logging.JsonFormatter"},
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": LOG_FORMAT,
            "filters": ["log_context"],
        },
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        # urllib3 logs every retry with the full URL; our client logs what matters once.
        "urllib3": {"level": "WARNING"},
    },
}
