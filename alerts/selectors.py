"""Reads of the alerts app: a user's endpoints, alerts and deliveries."""

import uuid

from django.db.models import QuerySet

from alerts.models import Alert, Delivery, WebhookEndpoint


def parse_id(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        return None


def endpoint_list(*, owner) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(owner=owner)


def endpoint_get(*, owner, endpoint_id: str) -> WebhookEndpoint | None:
    pk = parse_id(endpoint_id)
    return None if pk is None else WebhookEndpoint.objects.filter(owner=owner, pk=pk).first()


def alert_list(*, owner, product_id: uuid.UUID | None = None) -> QuerySet[Alert]:
    alerts = Alert.objects.filter(owner=owner)
    return alerts if product_id is None else alerts.filter(product_id=product_id)


def alert_get(*, owner, alert_id: str) -> Alert | None:
    pk = parse_id(alert_id)
    return None if pk is None else Alert.objects.filter(owner=owner, pk=pk).first()


def delivery_list(*, endpoint: WebhookEndpoint) -> QuerySet[Delivery]:
    return Delivery.objects.filter(endpoint=endpoint).select_related("event")
