"""How long webhook history is kept: finished deliveries, their attempts, and their events."""

import uuid
from datetime import timedelta
from functools import partial

import pytest
from django.utils import timezone

from alerts.management.commands import run_webhooks
from alerts.models import Delivery, DeliveryAttempt, DeliveryStatus, EventType, WebhookEvent
from alerts.services import _events_create, webhook_history_cutoff, webhook_history_prune

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def queued(endpoint_id: str, *, days_ago: float, status: str, attempts: int = 1) -> Delivery:
    """One ping created `days_ago`, left in `status` after `attempts` attempts."""
    (delivery,) = _events_create([(EventType.WEBHOOK_PING, {}, endpoint_id)])
    created = NOW - timedelta(days=days_ago)
    WebhookEvent.objects.filter(pk=delivery.event_id).update(created_at=created)
    Delivery.objects.filter(pk=delivery.pk).update(created_at=created, status=status, attempts=attempts)
    DeliveryAttempt.objects.bulk_create(
        DeliveryAttempt(delivery_id=delivery.pk, attempted_at=created, status_code=500, duration_ms=3)
        for _ in range(attempts)
    )
    return delivery


def test_old_deliveries_go_with_their_attempts_and_events_pending_ones_too(endpoint):
    old_delivered = queued(endpoint["id"], days_ago=40, status=DeliveryStatus.DELIVERED)
    old_failed = queued(endpoint["id"], days_ago=31, status=DeliveryStatus.FAILED, attempts=3)
    # E.g. of an endpoint disabled for months: nobody waits for it any more.
    old_pending = queued(endpoint["id"], days_ago=90, status=DeliveryStatus.PENDING)
    recent = queued(endpoint["id"], days_ago=29, status=DeliveryStatus.DELIVERED)
    recent_pending = queued(endpoint["id"], days_ago=29, status=DeliveryStatus.PENDING)

    pruned = webhook_history_prune(older_than=NOW - timedelta(days=30), batch_size=1)

    assert (pruned.deliveries, pruned.events) == (3, 3)
    assert set(Delivery.objects.values_list("pk", flat=True)) == {recent.pk, recent_pending.pk}
    assert set(WebhookEvent.objects.values_list("pk", flat=True)) == {recent.event_id, recent_pending.event_id}
    assert set(DeliveryAttempt.objects.values_list("delivery_id", flat=True)) == {recent.pk, recent_pending.pk}
    gone = [old_delivered.pk, old_failed.pk, old_pending.pk]
    assert not DeliveryAttempt.objects.filter(delivery_id__in=gone).exists()


def test_an_old_pending_delivery_a_worker_holds_right_now_is_kept(endpoint):
    held = queued(endpoint["id"], days_ago=90, status=DeliveryStatus.PENDING)
    Delivery.objects.filter(pk=held.pk).update(
        claim=uuid.uuid4(), next_attempt_at=timezone.now() + timedelta(seconds=30)
    )
    assert webhook_history_prune(older_than=NOW - timedelta(days=30)).deliveries == 0
    assert Delivery.objects.filter(pk=held.pk).exists()


def test_an_event_stays_while_one_of_its_deliveries_is_pending(endpoint, auth_client, receiver):
    other = auth_client.post("/webhooks", {"url": receiver.url + "/other"}, format="json").json()
    deliveries = _events_create([(EventType.WEBHOOK_PING, {}, endpoint["id"])])
    event_id = deliveries[0].event_id
    second = Delivery.objects.create(event_id=event_id, endpoint_id=other["id"], created_at=NOW, next_attempt_at=NOW)
    old = NOW - timedelta(days=60)
    WebhookEvent.objects.filter(pk=event_id).update(created_at=old)
    Delivery.objects.filter(pk=deliveries[0].pk).update(created_at=old, status=DeliveryStatus.DELIVERED)
    # The other delivery is still pending, within the window.

    webhook_history_prune(older_than=NOW - timedelta(days=30))

    assert list(Delivery.objects.values_list("pk", flat=True)) == [second.pk]
    assert WebhookEvent.objects.filter(pk=event_id).exists()


def test_pruning_stops_between_batches_when_asked(endpoint):
    for _ in range(3):
        queued(endpoint["id"], days_ago=40, status=DeliveryStatus.DELIVERED)
    pruned = webhook_history_prune(older_than=NOW - timedelta(days=30), batch_size=1, should_stop=lambda: True)
    assert (pruned.deliveries, pruned.events) == (1, 0)  # one batch, and no event before the deliveries are done
    assert Delivery.objects.count() == 2


def test_retention_follows_the_setting_and_zero_keeps_everything(settings):
    settings.WEBHOOK_HISTORY_DAYS = 7
    assert webhook_history_cutoff(now=NOW) == NOW - timedelta(days=7)
    settings.WEBHOOK_HISTORY_DAYS = 0
    assert webhook_history_cutoff(now=NOW) is None


# The worker's own connection handling (close_old_connections) needs tests outside a transaction.
@pytest.mark.django_db(transaction=True)
def test_the_worker_prunes_at_its_start_then_hourly(endpoint, settings, monkeypatch):
    settings.WEBHOOK_HISTORY_DAYS = 30
    monkeypatch.setattr(run_webhooks, "PRUNE_SLICE_SECONDS", 600)  # one slice does it all here
    queued(endpoint["id"], days_ago=40, status=DeliveryStatus.DELIVERED)
    worker = run_webhooks.Command()
    worker.prune_history_when_due()
    assert not Delivery.objects.exists()

    queued(endpoint["id"], days_ago=40, status=DeliveryStatus.FAILED)
    worker.prune_history_when_due()  # within the hour: nothing
    assert Delivery.objects.count() == 1
    worker.next_prune_at = timezone.now() - timedelta(seconds=1)  # an hour later
    worker.prune_history_when_due()
    assert not Delivery.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_long_prune_goes_on_in_slices_between_deliveries(endpoint, settings, monkeypatch):
    settings.WEBHOOK_HISTORY_DAYS = 30
    monkeypatch.setattr(run_webhooks, "PRUNE_SLICE_SECONDS", -1)  # every slice ends after one batch
    monkeypatch.setattr(run_webhooks, "webhook_history_prune", partial(webhook_history_prune, batch_size=1))
    for _ in range(2):
        queued(endpoint["id"], days_ago=40, status=DeliveryStatus.DELIVERED)
    worker = run_webhooks.Command()
    worker.prune_history_when_due()
    assert Delivery.objects.count() == 1
    assert timezone.now() < worker.next_prune_at <= timezone.now() + timedelta(seconds=run_webhooks.PRUNE_PAUSE_SECONDS)
