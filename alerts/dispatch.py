"""The delivery worker's units of work: claim due deliveries, send them, record each attempt.

No HTTP call runs inside a transaction. Claiming is one short transaction: the due rows are picked
(`FOR UPDATE SKIP LOCKED` where the database has it) and taken with a conditional UPDATE that
gives them a fresh claim token and pushes `next_attempt_at` past the attempt's longest possible
duration (the lease). A worker that dies mid-attempt therefore loses nothing: when the lease ends
the delivery is due again and another worker sends it. The result is recorded only by the holder
of the claim, with one attempt row per attempt.
"""

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from alerts import client, signing
from alerts.models import Delivery, DeliveryAttempt, DeliveryStatus, WebhookEndpoint

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery in hand: everything needed to send it without the database."""

    delivery_id: uuid.UUID
    claim: uuid.UUID
    endpoint_id: uuid.UUID
    url: str
    secret: str
    event_id: uuid.UUID
    body: str
    attempts: int  # before this one
    endpoint_failing: bool  # the endpoint had a failing streak when this was claimed


def lease_seconds() -> float:
    """How long a claim lasts: twice an attempt's deadline plus a margin.

    An attempt ends within WEBHOOK_TIMEOUT, connecting, headers and body together, however slowly
    the receiver answers (alerts.client); the claim outlives it by as much again plus the
    bookkeeping, so a live worker's claim never ends while it sends and no other worker sends the
    same delivery in parallel.
    """
    return 2 * settings.WEBHOOK_TIMEOUT + 5


def _due(now: datetime):
    """Due deliveries of active endpoints, the longest-waiting first."""
    return Delivery.objects.filter(
        status=DeliveryStatus.PENDING, next_attempt_at__lte=now, endpoint__is_active=True
    ).order_by("next_attempt_at")


def deliveries_claim(*, limit: int) -> list[Claimed]:
    """Take up to `limit` due deliveries of active endpoints for this worker."""
    now = timezone.now()
    token = uuid.uuid4()
    due = _due(now)
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True, of=("self",))
        ids = list(due.values_list("id", flat=True)[:limit])
        if not ids:
            return []
        # Conditional: a row another worker took meanwhile no longer matches and is not ours.
        Delivery.objects.filter(id__in=ids, status=DeliveryStatus.PENDING, next_attempt_at__lte=now).update(
            claim=token, next_attempt_at=now + timedelta(seconds=lease_seconds())
        )
    rows = Delivery.objects.filter(claim=token).values(
        "endpoint_id",
        "event_id",
        "attempts",
        delivery_id=F("id"),
        url=F("endpoint__url"),
        secret=F("endpoint__secret"),
        body=F("event__body"),
        endpoint_failing=Q(endpoint__failing_since__isnull=False),
    )
    return [Claimed(claim=token, **row) for row in rows]


def delivery_send(claimed: Claimed) -> client.Outcome:
    """One attempt over HTTP (no database); never raises."""
    message_id = str(claimed.event_id)
    try:
        headers = signing.headers(
            secret=claimed.secret, message_id=message_id, timestamp=int(time.time()), body=claimed.body
        )
    except ValueError:  # binascii.Error: a secret edited by hand into something unusable
        return client.Outcome(None, "the endpoint's secret is unusable", 0)
    return client.send(
        url=claimed.url,
        body=claimed.body,
        headers=headers,
        timeout=settings.WEBHOOK_TIMEOUT,
        allow_private=settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS,
    )


def deliveries_record(results: list[tuple[Claimed, client.Outcome]]) -> list[str]:
    """Record finished attempts, in one transaction; each one's resulting status ("lost" when its
    claim ran out, "gone" when the delivery was deleted meanwhile)."""
    with transaction.atomic():
        # Locked, so that an endpoint deleted meanwhile (its deliveries with it) waits for this
        # commit or is already gone: one vanished delivery must not fail the others' records.
        still_there = set(
            Delivery.objects.select_for_update()
            .filter(id__in=[claimed.delivery_id for claimed, _ in results])
            .values_list("id", flat=True)
        )
        kept = [(claimed, outcome) for claimed, outcome in results if claimed.delivery_id in still_there]
        DeliveryAttempt.objects.bulk_create(
            DeliveryAttempt(
                delivery_id=claimed.delivery_id,
                attempted_at=timezone.now() - timedelta(milliseconds=outcome.duration_ms),
                status_code=outcome.status_code,
                error=outcome.error,
                duration_ms=outcome.duration_ms,
            )
            for claimed, outcome in kept
        )
        recorded = {claimed.delivery_id: _record(claimed, outcome) for claimed, outcome in kept}
        return [recorded.get(claimed.delivery_id, "gone") for claimed, _ in results]


def _record(claimed: Claimed, outcome: client.Outcome) -> str:
    now = timezone.now()
    fields = {
        "attempts": F("attempts") + 1,
        "last_status_code": outcome.status_code,
        "last_error": outcome.error,
        "claim": None,
    }
    delays = settings.WEBHOOK_RETRY_DELAYS  # the n-th is the wait after n failed attempts
    if outcome.delivered:
        status = DeliveryStatus.DELIVERED
        fields.update(status=status, delivered_at=now, next_attempt_at=None)
    elif claimed.attempts < len(delays):
        status = DeliveryStatus.PENDING
        fields.update(status=status, next_attempt_at=now + timedelta(seconds=delays[claimed.attempts]))
    else:
        status = DeliveryStatus.FAILED
        fields.update(status=status, next_attempt_at=None)
    # Only the claim's holder records; if its lease ran out and another worker took the delivery,
    # that one's result counts (the attempt row stays as a fact).
    if not Delivery.objects.filter(id=claimed.delivery_id, claim=claimed.claim).update(**fields):
        logger.warning("delivery %s: the claim ran out before its attempt was recorded", claimed.delivery_id)
        return "lost"
    if not outcome.delivered or claimed.endpoint_failing:
        _endpoint_health(claimed.endpoint_id, delivered=outcome.delivered, now=now)
    return status


def _endpoint_health(endpoint_id: uuid.UUID, *, delivered: bool, now) -> None:
    endpoints = WebhookEndpoint.objects.filter(id=endpoint_id)
    if delivered:
        endpoints.filter(failing_since__isnull=False).update(failing_since=None)
        return
    endpoints.filter(failing_since__isnull=True).update(failing_since=now)
    cutoff = now - timedelta(hours=settings.WEBHOOK_DISABLE_AFTER_HOURS)
    if endpoints.filter(is_active=True, failing_since__lte=cutoff).update(is_active=False):
        logger.warning(
            "webhook endpoint %s disabled: every attempt failed for %d hours",
            endpoint_id,
            settings.WEBHOOK_DISABLE_AFTER_HOURS,
        )


def pending_count() -> int:
    return Delivery.objects.filter(status=DeliveryStatus.PENDING).count()


def overdue_seconds() -> float:
    """How long the longest-waiting due delivery of an active endpoint has been due; 0 if none is.

    The deliveries `deliveries_claim` would take: a running worker takes them within seconds, so a
    large value means no worker runs or they cannot keep up (a delivery waiting for its retry is not due).
    """
    now = timezone.now()
    oldest = _due(now).values_list("next_attempt_at", flat=True).first()
    return 0.0 if oldest is None else (now - oldest).total_seconds()
