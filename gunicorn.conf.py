"""Gunicorn settings for the web process; every value can be overridden from the environment."""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
# Sync workers: each request is a couple of short queries, so processes, not threads, use the cores.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "1"))
# A request that takes this long is stuck; the worker is killed and replaced.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# Recycle workers now and then so a slow leak cannot grow without bound.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "10000"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "1000"))
# Refuse oversized request lines and headers early (bytes / count).
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
# Logs to stdout/stderr, one line per event; the access log is on unless switched off.
accesslog = "-" if os.environ.get("GUNICORN_ACCESS_LOG", "true").lower() in {"1", "true", "yes", "on"} else None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# Load the app before forking: a configuration error stops the master with its one-line message.
preload_app = True
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# LOG_FORMAT=json: gunicorn's own lines (start-up, errors, the access log) become one JSON object per
# line on stdout too, in the same shape as the application's (aggregator.logging.JsonFormatter).
if os.environ.get("LOG_FORMAT", "text").strip().lower() == "json":
    logconfig_dict = {
        "formatters": {"json": {"()": "aggregator.logging.JsonFormatter"}},
        "handlers": {
            "json_stdout": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "json"}
        },
        "root": {"level": "INFO", "handlers": ["json_stdout"]},
        "loggers": {
            "gunicorn.error": {"level": loglevel.upper(), "handlers": ["json_stdout"], "propagate": False},
            "gunicorn.access": {
                "level": "INFO" if accesslog else "WARNING",
                "handlers": ["json_stdout"],
                "propagate": False,
            },
        },
    }
