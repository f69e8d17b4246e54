"""Prometheus metrics of a sync worker, served at http://<worker>:$SYNC_METRICS_PORT/metrics.

Cycle, product and offer counts come from the CycleSummary each cycle returns (`cycle_ended`).
Calls to the offers service are counted and timed where they leave the process, through the
client's `on_attempt` observer (`InstrumentedOffersServiceClient`), so the client itself stays HTTP only; token
renewals are counted around the client's /auth call, whatever the token source does with them.

Each worker process has its own values (a worker is one process); Prometheus adds them up across
workers. The listener is aggregator.metrics' and takes the web's rule: nothing is served unless
METRICS_TOKEN is set, and then only to `Authorization: Bearer <METRICS_TOKEN>`.

The product gauges (`product_gauges`) are read from the database at scrape time and served on the
web's /metrics (registered from OffersSyncConfig.ready(), cached as aggregator.metrics caches all such).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily

from offers_sync.client import (
    AccessTokenStillValid,
    IssuedAccessToken,
    OffersServiceClient,
    OffersServiceError,
    RefreshTokenRejected,
)
from offers_sync.selectors import sync_gauges

if TYPE_CHECKING:  # offers_sync.sync imports the gateway, which imports this module
    from offers_sync.sync import CycleSummary


def product_gauges() -> Iterator[GaugeMetricFamily]:
    """`aggregator_products{state}`, `aggregator_products_stale`, `aggregator_sync_last_success_timestamp_seconds`."""
    values = sync_gauges()
    products = GaugeMetricFamily(
        "aggregator_products", "Products by registration with the offers service.", labels=["state"]
    )
    products.add_metric(["registered"], values["registered"])
    products.add_metric(["pending"], values["pending"])
    yield products
    yield GaugeMetricFamily(
        "aggregator_products_stale",
        "Registered products whose offers were last mirrored more than two schedule intervals ago.",
        value=values["stale"],
    )
    if values["last_success"] is not None:
        yield GaugeMetricFamily(
            "aggregator_sync_last_success_timestamp_seconds",
            "When a sync cycle last completed (Unix time), as recorded in the database by any worker.",
            value=values["last_success"].timestamp(),
        )


class SyncMetrics:
    """The worker's series, made on first use (`sync_metrics()`): a web process imports this module
    too (through the gateway), and must not expose them at 0 beside its own."""

    def __init__(self):
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self.cycles = Counter(
            "aggregator_sync_cycles",
            "Sync cycles of this worker by outcome: completed, stopped (early, at shutdown), skipped (no "
            "access token), failed (database unavailable).",
            ["outcome"],
            registry=registry,
        )
        self.cycle_duration = Histogram(
            "aggregator_sync_cycle_duration_seconds",
            "Duration of this worker's cycles that ran (completed or stopped).",
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1800),
            registry=registry,
        )
        self.products = Counter(
            "aggregator_sync_products",
            "Products handled by this worker's cycles: synced, failed (cached offers kept), unregistered "
            "(the offers service no longer knows them).",
            ["outcome"],
            registry=registry,
        )
        self.offer_changes = Counter(
            "aggregator_sync_offer_changes",
            "Offers this worker added, changed or removed in the mirror.",
            ["kind"],
            registry=registry,
        )
        self.upstream_requests = Counter(
            "aggregator_upstream_requests",
            "HTTP requests to the offers service by endpoint and status (the HTTP status, or timeout, error).",
            ["endpoint", "status"],
            registry=registry,
        )
        self.upstream_duration = Histogram(
            "aggregator_upstream_request_duration_seconds",
            "Duration of each HTTP request to the offers service (each attempt), by endpoint.",
            ["endpoint"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=registry,
        )
        self.token_renewals = Counter(
            "aggregator_access_token_renewals",
            "Requests for a new access token by outcome: renewed, another_still_valid, rejected (the "
            "refresh token is wrong), failed.",
            ["outcome"],
            registry=registry,
        )
        self.last_success = Gauge(
            "aggregator_sync_last_success_timestamp_seconds",
            "When this worker last completed a cycle (Unix time); 0 before its first.",
            registry=registry,
        )
        # Series that exist from the start at 0, so that rates and alert expressions see them before
        # the first event (a counter that appears only when it first moves hides that move from rate()).
        for outcome in ("completed", "stopped", "skipped", "failed"):
            self.cycles.labels(outcome)
        for outcome in ("synced", "failed", "unregistered"):
            self.products.labels(outcome)
        for kind in ("added", "changed", "removed"):
            self.offer_changes.labels(kind)
        for endpoint in ("auth", "register", "offers"):
            self.upstream_duration.labels(endpoint)
        for outcome in ("renewed", "another_still_valid", "rejected", "failed"):
            self.token_renewals.labels(outcome)


_metrics: SyncMetrics | None = None
# Locked, not functools.cache: under `run_sync --once` the first call can come from several fetch
# threads at once (the client's on_attempt), and each must count into the one registry.
_metrics_lock = threading.Lock()


def sync_metrics() -> SyncMetrics:
    global _metrics
    if _metrics is None:
        with _metrics_lock:
            if _metrics is None:
                _metrics = SyncMetrics()
    return _metrics


def cycle_ended(outcome: str, summary: CycleSummary | None = None) -> None:
    """Count one cycle; with its summary (it ran), its products, offer changes and duration too."""
    m = sync_metrics()
    m.cycles.labels(outcome).inc()
    if summary is None:
        return
    m.cycle_duration.observe(summary.duration_seconds)
    m.products.labels("synced").inc(summary.products_synced)
    m.products.labels("failed").inc(summary.products_failed)
    m.products.labels("unregistered").inc(summary.products_unregistered)
    m.offer_changes.labels("added").inc(summary.offers_added)
    m.offer_changes.labels("changed").inc(summary.offers_changed)
    m.offer_changes.labels("removed").inc(summary.offers_removed)
    if outcome == "completed":
        m.last_success.set(time.time())


def upstream_endpoint(url: str) -> str:
    """The contract's endpoint a URL belongs to: auth, register, offers (other for anything else)."""
    path = urlsplit(url).path.rstrip("/")
    if path.endswith("/auth"):
        return "auth"
    if path.endswith("/products/register"):
        return "register"
    if path.endswith("/offers"):
        return "offers"
    return "other"


def upstream_attempt_observed(*, path: str, outcome: str, seconds: float) -> None:
    """The client's `on_attempt`: count and time one HTTP attempt as the offers service saw it."""
    endpoint = upstream_endpoint(path)
    m = sync_metrics()
    m.upstream_duration.labels(endpoint).observe(seconds)
    m.upstream_requests.labels(endpoint, outcome).inc()


class InstrumentedOffersServiceClient(OffersServiceClient):
    """The offers service client, with every HTTP attempt and token renewal counted.

    Attempts are observed through the client's `on_attempt` (below its retry loop): each attempt
    is one request with its own status and duration, as the offers service saw it.
    """

    def __init__(self, base_url: str, **kwargs):
        super().__init__(base_url, on_attempt=upstream_attempt_observed, **kwargs)

    def issue_access_token(self, refresh_token: str) -> IssuedAccessToken:
        renewals = sync_metrics().token_renewals
        try:
            issued = super().issue_access_token(refresh_token)
        except AccessTokenStillValid:
            renewals.labels("another_still_valid").inc()
            raise
        except RefreshTokenRejected:
            renewals.labels("rejected").inc()
            raise
        except OffersServiceError:
            renewals.labels("failed").inc()
            raise
        renewals.labels("renewed").inc()
        return issued
