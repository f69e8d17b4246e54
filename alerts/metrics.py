"""Prometheus metrics of the webhook deliveries.

- `aggregator_webhook_deliveries_total{outcome}`: counted by each run_webhooks worker, one per
  attempt it sent and then recorded, by what the record made of it (OUTCOMES), and served by that
  worker on WEBHOOK_METRICS_ADDRESS:WEBHOOK_METRICS_PORT (aggregator.metrics' listener, same
  METRICS_TOKEN rule). Each worker process has its own values; Prometheus adds them up.
- `aggregator_webhook_deliveries_pending`: read from the database at scrape time (a few seconds'
  cache), on the web's /metrics (registered from AlertsConfig.ready()) and on the worker's listener.
  Every process shows the same number: aggregate it with max, not sum.
- `aggregator_webhook_deliveries_overdue_seconds`: how long the longest-waiting due delivery has
  waited for a worker (0 when none is due), read and served like the pending count.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily

from aggregator.metrics import CachedGauges
from alerts.dispatch import overdue_seconds, pending_count
from alerts.models import DeliveryStatus

# What dispatch.deliveries_record reports for an attempt → the outcome it is counted under. A fixed
# set: every series exists from the start at 0 (rate() then sees the first one move).
OUTCOMES = {
    DeliveryStatus.DELIVERED: "delivered",  # the receiver answered 2xx
    DeliveryStatus.PENDING: "retrying",  # it failed; another attempt is scheduled
    DeliveryStatus.FAILED: "failed",  # it failed and was the last attempt
    "lost": "lost",  # the claim ran out first: another worker's attempt counts instead
    "gone": "gone",  # the delivery was deleted (its endpoint with it) while in flight
}


def pending_gauges() -> Iterable[GaugeMetricFamily]:
    yield GaugeMetricFamily(
        "aggregator_webhook_deliveries_pending",
        "Webhook deliveries waiting for an attempt or a retry (of disabled endpoints too), as recorded "
        "in the database.",
        value=pending_count(),
    )
    yield GaugeMetricFamily(
        "aggregator_webhook_deliveries_overdue_seconds",
        "How long the longest-waiting due delivery of an active endpoint has been due, in seconds (0 when "
        "none is): a worker takes due deliveries within seconds.",
        value=overdue_seconds(),
    )


class WebhookMetrics:
    """The worker's series, made on first use (`webhook_metrics()`): in multiprocess mode a web
    process that made them would expose them at 0 beside its own."""

    def __init__(self):
        # Not auto_describe: registering the gauges must not read the database.
        self.registry = registry = CollectorRegistry()
        self.deliveries = Counter(
            "aggregator_webhook_deliveries",
            "Webhook delivery attempts this worker recorded, by outcome: delivered, retrying (failed, "
            "retry scheduled), failed (the last attempt failed), lost (its claim ran out first), gone "
            "(the delivery was deleted meanwhile).",
            ["outcome"],
            registry=registry,
        )
        for outcome in dict.fromkeys(OUTCOMES.values()):
            self.deliveries.labels(outcome)
        registry.register(CachedGauges(pending_gauges, name="webhook gauges"))


@functools.cache
def webhook_metrics() -> WebhookMetrics:
    """The process's one WebhookMetrics. Only run_webhooks' main thread calls this (its delivery
    threads hand their outcomes back to it), so the first call is never raced."""
    return WebhookMetrics()


def attempts_recorded(statuses: Iterable[str]) -> None:
    """Count attempts by what `deliveries_record` returned for each."""
    deliveries = webhook_metrics().deliveries
    for status in statuses:
        deliveries.labels(OUTCOMES[status]).inc()
