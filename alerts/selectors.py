"""Reads of the alerts app: a user's endpoints, alerts and deliveries."""

import uuid
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet

from alerts.models import Alert, Delivery, DeliveryStatus, WebhookEndpoint


def endpoint_list(*, owner) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(owner=owner)


def alert_list(*, owner, product_id: uuid.UUID | None = None) -> QuerySet[Alert]:
    alerts = Alert.objects.filter(owner=owner)
    return alerts if product_id is None else alerts.filter(product_id=product_id)


def delivery_list(*, endpoint: WebhookEndpoint) -> QuerySet[Delivery]:
    return Delivery.objects.filter(endpoint=endpoint).select_related("event")


# -- health, for the admin's status page -------------------------------------------------------

FAILED_RECENTLY = timedelta(days=1)


def webhook_health(*, now: datetime, limit: int = 20) -> dict:
    """Endpoints failing or disabled (the first `limit`), and deliveries waiting, late or failed.

    Each count goes through an index: pending deliveries through the partial index of due ones,
    the failures of the last day through the finished deliveries' (created_at, id) index.
    """
    troubled = Q(failing_since__isnull=False) | Q(is_active=False)
    endpoints = list(
        WebhookEndpoint.objects.filter(troubled).select_related("owner").order_by("is_active", "failing_since")[:limit]
    )
    pending = Delivery.objects.filter(status=DeliveryStatus.PENDING)
    return {
        "troubled_endpoints": endpoints,
        "troubled_count": WebhookEndpoint.objects.filter(troubled).count(),
        "pending": pending.count(),
        "overdue": pending.filter(next_attempt_at__lt=now - timedelta(minutes=1)).count(),
        "oldest_due": pending.order_by("next_attempt_at").values_list("next_attempt_at", flat=True).first(),
        "failed_recently": Delivery.objects.filter(
            created_at__gte=now - FAILED_RECENTLY, status=DeliveryStatus.FAILED
        ).count(),
    }
