"""Gunicorn settings for the web process; every value can be overridden from the environment.

The defaults were measured on 2 cores with bench/api_bench.py (docs/performance.md).
"""

import os
import shutil
import tempfile
from pathlib import Path

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
# Sync workers, one per core: a request is one or two short queries, so the cores, not waits, are
# the limit (more workers or gthread served no more, docs/performance.md). The sync worker closes
# every connection and reads requests blocking: it wants a proxy in front that buffers slow clients
# (the load balancer or TLS proxy does). Without one, GUNICORN_WORKER_CLASS=gthread.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "1"))
# A request that takes this long is stuck; the worker is killed and replaced.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# Recycle workers now and then so a slow leak cannot grow without bound. Not too often: a busy
# worker reaches a low limit within seconds, and each restart (new process, new database
# connection) shows in the requests that wait for it, at p99.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "100000"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "10000"))
# Refuse oversized request lines and headers early (bytes / count).
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
# Logs to stdout/stderr, one line per event. The access log is off unless switched on: it costs a
# measurable share of a cheap request's CPU (docs/performance.md, Gunicorn), and Django logs every
# 4xx and 5xx answer anyway (logger django.request).
# The access log's line ends with the request's id (aggregator.log_context), as the app's lines do.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" request_id=%({x-request-id}o)s'
accesslog = "-" if os.environ.get("GUNICORN_ACCESS_LOG", "false").lower() in {"1", "true", "yes", "on"} else None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# Load the app before forking: a configuration error stops the master with its one-line message.
preload_app = True
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# Metrics (aggregator.metrics): every worker process writes its values to files in one directory,
# which GET /metrics reads and sums (prometheus-client's multiprocess mode). A fresh directory per
# server under /tmp (tmpfs in the containers), made before the app is loaded: prometheus-client
# reads the variable when the app first records a value. A reload (HUP) keeps the directory.
_METRICS_DIR_PREFIX = "aggregator-metrics-"
if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix=_METRICS_DIR_PREFIX)


def child_exit(server, worker):
    # A dead worker's counters stay in the sum (they are counts of what happened); its live gauges go.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    if directory.name.startswith(_METRICS_DIR_PREFIX):
        shutil.rmtree(directory, ignore_errors=True)


def on_starting(server):
    """Before listening: refuse to start without what every request may need (aggregator.startup)."""
    import django
    from django.apps import apps

    if not apps.ready:  # preload_app has set Django up already; without it, do it here
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aggregator.settings")
        django.setup()
    from aggregator.startup import check_static_files_collected

    check_static_files_collected()


# LOG_FORMAT=json: gunicorn's own lines (start-up, errors, the access log) become one JSON object per
# line on stdout too, in the same shape as the application's (aggregator.logging.JsonFormatter).
if os.environ.get("LOG_FORMAT", "text").strip().lower() == "json":
    logconfig_dict = {
        "formatters": {"json": {"()": "aggregator.logging.JsonFormatter"}},
        "filters": {"log_context": {"()": "aggregator.log_context.LogContextFilter"}},
        "handlers": {
            "json_stdout": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": "json",
                "filters": ["log_context"],
            }
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
