"""The webhook metrics: attempts counted by outcome as the worker records them, the pending
deliveries read from the database on the web's /metrics and on the worker's listener, which
takes the METRICS_TOKEN like the web."""

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client import generate_latest

from aggregator import metrics as web_metrics
from aggregator.metrics import start_metrics_server
from aggregator.tests.scrape import samples, scrape_listener
from alerts.metrics import webhook_metrics
from alerts.models import Delivery, DeliveryStatus
from alerts.tests.conftest import OUTCOMES, attempts, deliver_due

TOKEN = "metrics-token"


@pytest.fixture(autouse=True)
def quick(settings, monkeypatch):
    settings.WEBHOOK_RETRY_DELAYS = (0, 0, 0)
    settings.WEBHOOK_TIMEOUT = 2
    settings.METRICS_TOKEN = TOKEN
    monkeypatch.setattr(web_metrics, "GAUGES_CACHE_SECONDS", 0)


def worker_attempts() -> dict[str, float]:
    return attempts(generate_latest(webhook_metrics().registry).decode())


def moved(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {outcome: after[outcome] - before[outcome] for outcome in OUTCOMES if after[outcome] != before[outcome]}


def ping(auth_client, endpoint) -> None:
    assert auth_client.post(f"/webhooks/{endpoint['id']}/ping").status_code == 202


@pytest.mark.django_db(transaction=True)
def test_every_recorded_attempt_is_counted_by_its_outcome(auth_client, endpoint, receiver):
    receiver.answers = [500, 503]
    ping(auth_client, endpoint)
    before = worker_attempts()
    deliver_due()
    assert len(receiver.received) == 3
    assert moved(before, worker_attempts()) == {"retrying": 2, "delivered": 1}


@pytest.mark.django_db(transaction=True)
def test_a_last_failed_attempt_counts_as_failed(auth_client, endpoint, receiver, settings):
    settings.WEBHOOK_RETRY_DELAYS = (0,)
    receiver.answers = [500, 502]
    ping(auth_client, endpoint)
    before = worker_attempts()
    deliver_due()
    assert len(receiver.received) == 2
    assert moved(before, worker_attempts()) == {"retrying": 1, "failed": 1}
    assert Delivery.objects.filter(status=DeliveryStatus.FAILED).count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_web_shows_the_pending_deliveries(client, auth_client, endpoint, receiver):
    def scraped() -> float:
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200
        return samples(response.content.decode())[("aggregator_webhook_deliveries_pending", ())]

    assert scraped() == 0
    for _ in range(3):
        ping(auth_client, endpoint)
    assert scraped() == 3
    Delivery.objects.filter(pk=Delivery.objects.first().pk).update(status=DeliveryStatus.FAILED)
    assert scraped() == 2
    deliver_due()
    assert scraped() == 0
    # The worker's series are the worker's: the web does not show them.
    assert (
        b"aggregator_webhook_deliveries_total"
        not in client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content
    )


@pytest.mark.django_db(transaction=True)
def test_the_web_shows_how_long_due_deliveries_have_waited(client, auth_client, endpoint, receiver):
    def overdue() -> float:
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        return samples(response.content.decode())[("aggregator_webhook_deliveries_overdue_seconds", ())]

    assert overdue() == 0
    ping(auth_client, endpoint)
    ping(auth_client, endpoint)
    # No worker took them: one has been due for ten minutes, the other for one.
    first, second = Delivery.objects.order_by("created_at")
    now = timezone.now()
    Delivery.objects.filter(pk=first.pk).update(next_attempt_at=now - timedelta(minutes=10))
    Delivery.objects.filter(pk=second.pk).update(next_attempt_at=now - timedelta(minutes=1))
    assert 600 <= overdue() < 660
    # Waiting for a retry is not overdue.
    Delivery.objects.filter(pk=first.pk).update(next_attempt_at=now + timedelta(minutes=5))
    assert 60 <= overdue() < 120
    deliver_due()
    assert overdue() == 0


@pytest.mark.django_db
def test_the_worker_listener_serves_every_outcome_from_the_start():
    # The token rule is the shared listener's (aggregator/tests/test_metrics.py).
    status, body = scrape_listener(start_metrics_server(webhook_metrics().registry, address="127.0.0.1", port=0), TOKEN)
    assert status == 200 and "Bearer" not in body
    assert set(attempts(body)) == set(OUTCOMES)
    assert samples(body)[("aggregator_webhook_deliveries_pending", ())] == 0
