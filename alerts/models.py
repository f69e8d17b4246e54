"""Webhook endpoints, the alerts that point at them, and the events and deliveries they cause.

An alert's evaluation state (armed, reference price, last in-stock state) lives on its row and is
written in the reconcile transaction that changed the product's offers. An alert for every product
(`product` NULL) keeps its per-product price reference in `AlertReference`; its other kinds judge
a transition from the offer sets before and after, which the hook hands over.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

URL_MAX_LENGTH = 2000
DESCRIPTION_MAX_LENGTH = 500


class WebhookEndpoint(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.CharField(max_length=URL_MAX_LENGTH)
    description = models.CharField(max_length=DESCRIPTION_MAX_LENGTH, null=True, blank=True)
    # `whsec_` + base64 of random bytes. Kept because signing needs it; shown once, at creation.
    secret = models.CharField(max_length=100, editable=False)
    is_active = models.BooleanField(default=True)
    # Since when every attempt failed (None after a success); past WEBHOOK_DISABLE_AFTER_HOURS the
    # endpoint is disabled.
    failing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["owner", "created_at", "id"], name="alerts_endpoint_owner_idx")]

    def __str__(self) -> str:
        return self.url


class AlertKind(models.TextChoices):
    PRICE_BELOW = "price_below"
    PRICE_DROP = "price_drop"
    BACK_IN_STOCK = "back_in_stock"
    OUT_OF_STOCK = "out_of_stock"


class Alert(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alerts")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="alerts")
    # NULL: every product.
    product = models.ForeignKey("catalogue.Product", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    kind = models.CharField(max_length=20, choices=AlertKind.choices)
    threshold = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Evaluation state of an alert for one product (see alerts.rules).
    armed = models.BooleanField(default=True)  # price_below: the condition did not hold last time
    reference_price = models.BigIntegerField(null=True, blank=True)  # price_drop
    in_stock = models.BooleanField(null=True, blank=True)  # back_in_stock / out_of_stock

    class Meta:
        indexes = [
            # The reconciler's subscriber loads a product's alerts and the every-product ones.
            models.Index(fields=["product"], name="alerts_alert_product_idx"),
            models.Index(fields=["owner", "created_at", "id"], name="alerts_alert_owner_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.threshold if self.threshold is not None else ''}".strip()


class AlertReference(models.Model):
    """The reference price of an every-product `price_drop` alert, for one product."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="references")
    product = models.ForeignKey("catalogue.Product", on_delete=models.CASCADE, related_name="+")
    reference_price = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["alert", "product"], name="alerts_reference_unique")]


class EventType(models.TextChoices):
    ALERT_TRIGGERED = "alert.triggered"
    ALERT_DELETED = "alert.deleted"
    WEBHOOK_PING = "webhook.ping"


class WebhookEvent(models.Model):
    """What happened, as the exact JSON body every attempt sends (its id is the `webhook-id`)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=40, choices=EventType.choices)
    body = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        # Retention finds the oldest events.
        indexes = [models.Index(fields=["created_at", "id"], name="alerts_event_created_idx")]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class Delivery(models.Model):
    """One event to one endpoint. `next_attempt_at` is also the lease: claiming bumps it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Who holds the attempt in hand (a fresh token per claim); the result is recorded only by them.
    claim = models.UUIDField(null=True, blank=True, editable=False)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="alerts_delivery_due_idx",
            ),
            models.Index(fields=["endpoint", "-created_at", "-id"], name="alerts_delivery_endpoint_idx"),
            # Retention finds the oldest finished deliveries.
            models.Index(
                fields=["created_at", "id"],
                condition=~Q(status="pending"),
                name="alerts_delivery_finished_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.endpoint_id}"


class DeliveryAttempt(models.Model):
    """One POST of a delivery: what the receiver answered (or what went wrong) and how long it took."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True, default="")
    duration_ms = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["delivery", "attempted_at"], name="alerts_attempt_delivery_idx")]
