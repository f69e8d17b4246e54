"""Prometheus metrics of the web process, and what the web and the worker share to expose theirs.

- `HttpMetricsMiddleware` counts and times every answer by route (the URL pattern, never the raw
  path, so ids do not each make a series), method and status: one counter increment and one
  histogram observation per request, nothing else on the request path.
- `GET /metrics` (`metrics_view`) answers in the Prometheus text format. Under gunicorn the
  processes' values are summed: gunicorn.conf.py points prometheus-client's multiprocess mode
  (`PROMETHEUS_MULTIPROC_DIR`) at a fresh directory, where every worker process writes its values
  and which the scrape reads. Outside gunicorn (tests, runserver) the process's own values are
  shown. Gauges that apps register with `register_gauges` (the sync's product counts, the alerts'
  pending deliveries) are read from the database at scrape time, at most every few seconds: this
  module names no app above it.
- `/metrics` is not public: it answers 404 unless METRICS_TOKEN is set, and then only to
  `Authorization: Bearer <METRICS_TOKEN>` (compared in constant time). The workers' listeners
  (`start_metrics_server`, used by run_sync and run_webhooks) take the same rule.
"""

import functools
import hmac
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import CommandError
from django.db import DatabaseError
from django.http import Http404, HttpResponse, JsonResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

# No `*_created` series beside every counter and histogram: they double the output and nothing
# here reads them (the web's multiprocess mode has none anyway; this keeps the worker alike).
disable_created_metrics()

# Methods outside this set are counted as "other": a client cannot invent label values.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Scrapes within this many seconds of each other share one read of the database.
GAUGES_CACHE_SECONDS = 5.0

_http_registry = CollectorRegistry(auto_describe=True)
HTTP_REQUESTS = Counter(
    "aggregator_http_requests",
    "HTTP requests answered, by route (URL pattern), method and status.",
    ["route", "method", "status"],
    registry=_http_registry,
)
HTTP_REQUEST_DURATION = Histogram(
    "aggregator_http_request_duration_seconds",
    "Time from the first middleware to the answer, by route and method.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=_http_registry,
)


class HttpMetricsMiddleware:
    """Count and time every answer (first in MIDDLEWARE, so it sees every one)."""

    def __init__(self, get_response):
        self.get_response = get_response
        # (route, method, status) → the two series' children: `labels()` validates and locks on
        # every call, a dict lookup does not. Bounded: routes, methods and statuses are few.
        self._series: dict[tuple[str, str, int], tuple] = {}

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        match = request.resolver_match
        key = (match.route if match is not None else "unmatched", request.method, response.status_code)
        series = self._series.get(key)
        if series is None:
            series = self._series_for(*key)
        series[0].inc()
        series[1].observe(elapsed)
        return response

    def _series_for(self, route: str, method: str, status: int) -> tuple:
        label_method = method if method in KNOWN_METHODS else "other"
        series = (
            HTTP_REQUESTS.labels(route, label_method, str(status)),
            HTTP_REQUEST_DURATION.labels(route, label_method),
        )
        if method in KNOWN_METHODS:  # an invented method is not kept as a key either
            self._series[(route, method, status)] = series
        return series


# -- exposition ---------------------------------------------------------------------------------


def authorized(authorization_header: str | None) -> bool:
    """Does this `Authorization` header carry `Bearer <METRICS_TOKEN>`? False when no token is set."""
    expected = settings.METRICS_TOKEN
    if not expected or not authorization_header:
        return False
    scheme, _, given = authorization_header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode("utf-8", "surrogateescape"), expected.encode())


def metrics_view(request):
    """GET /metrics: the web's metrics in the Prometheus text format (see the module doc)."""
    if not settings.METRICS_TOKEN:
        raise Http404  # the same answer as any unknown path
    if request.method not in ("GET", "HEAD"):
        return JsonResponse({"detail": f'Method "{request.method}" not allowed.'}, status=405, headers={"Allow": "GET"})
    if not authorized(request.META.get("HTTP_AUTHORIZATION")):
        return JsonResponse(
            {"detail": "Metrics need Authorization: Bearer <METRICS_TOKEN>."},
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    return HttpResponse(generate_latest(_web_registry()), content_type=CONTENT_TYPE_LATEST)


@functools.cache  # the multiprocess directory is fixed for the life of the process (set before it started)
def _web_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(_http_registry)  # a registry is a collector of its metrics
    registry.register(_RegisteredGaugesCollector())
    return registry


# -- gauges of the apps ----------------------------------------------------------------------------

GaugeProvider = Callable[[], Iterable[Metric]]


class CachedGauges(Collector):
    """Metric families read by `provider` (from the database, say), kept for a few seconds.

    A DatabaseError leaves them out of that scrape: the rest of it still answers.
    """

    def __init__(self, provider: GaugeProvider, *, name: str):
        self.provider = provider
        self.name = name
        self._lock = threading.Lock()
        self._cached: tuple[float, list[Metric]] | None = None

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            now = time.monotonic()
            if self._cached is None or now - self._cached[0] >= GAUGES_CACHE_SECONDS:
                try:
                    self._cached = (now, list(self.provider()))
                except DatabaseError as exc:
                    logger.warning("metrics: %s left out, database unavailable (%s)", self.name, type(exc).__name__)
                    return iter(())
            return iter(self._cached[1])


_gauge_providers: dict[str, CachedGauges] = {}


def register_gauges(name: str, provider: GaugeProvider) -> None:
    """Add `provider`'s gauges to the web's /metrics (call it from an AppConfig.ready(); the same
    name again replaces the earlier provider)."""
    _gauge_providers[name] = CachedGauges(provider, name=name)


class _RegisteredGaugesCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        for gauges in list(_gauge_providers.values()):
            yield from gauges.collect()


# -- the workers' listener ------------------------------------------------------------------------


class _MetricsHandler(BaseHTTPRequestHandler):
    # A client that stops sending is dropped instead of holding a thread.
    timeout = 10
    server_version = "aggregator-metrics"
    sys_version = ""

    def do_GET(self):  # noqa: N802 - http.server's naming
        if urlsplit(self.path).path != "/metrics" or not settings.METRICS_TOKEN:
            return self._answer(404, b'{"detail": "Not found."}', "application/json")
        if not authorized(self.headers.get("Authorization")):
            body = b'{"detail": "Metrics need Authorization: Bearer <METRICS_TOKEN>."}'
            return self._answer(401, body, "application/json", {"WWW-Authenticate": 'Bearer realm="metrics"'})
        return self._answer(200, generate_latest(self.server.registry), CONTENT_TYPE_LATEST)

    def do_HEAD(self):  # noqa: N802
        self.do_GET()

    def _answer(self, status: int, body: bytes, content_type: str, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 - http.server's signature
        logger.debug("metrics listener: " + format, *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    registry: CollectorRegistry


class _Server6(_Server):
    address_family = socket.AF_INET6


def start_metrics_server(registry: CollectorRegistry, *, address: str, port: int) -> ThreadingHTTPServer:
    """Serve `registry` at /metrics on address:port from a daemon thread, to the METRICS_TOKEN only;
    `shutdown()` the result to stop. Raises OSError."""
    server_class = _Server6 if ":" in address else _Server
    server = server_class((address, port), _MetricsHandler)
    server.registry = registry
    threading.Thread(target=server.serve_forever, name="metrics-listener", daemon=True).start()
    return server


@contextmanager
def worker_metrics_listener(
    registry: CollectorRegistry, *, settings_prefix: str, logger: logging.Logger
) -> Iterator[None]:
    """A worker's listener (start_metrics_server) on <prefix>_METRICS_ADDRESS:<prefix>_METRICS_PORT for
    the length of the block; none while that port is unset. A port it cannot take is a CommandError."""
    address = getattr(settings, f"{settings_prefix}_METRICS_ADDRESS")
    port = getattr(settings, f"{settings_prefix}_METRICS_PORT")
    if not port:
        yield
        return
    try:
        listener = start_metrics_server(registry, address=address, port=port)
    except OSError as exc:
        raise CommandError(
            f"configuration error: cannot listen for metrics on {address}:{port} "
            f"({settings_prefix}_METRICS_ADDRESS, {settings_prefix}_METRICS_PORT): {exc.strerror or exc}"
        ) from None
    logger.info("metrics on http://%s:%d/metrics", address or "0.0.0.0", port)
    try:
        yield
    finally:
        listener.shutdown()
        listener.server_close()
