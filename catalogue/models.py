"""The product catalogue, which this service owns."""

import uuid
from datetime import UTC, datetime

from django.contrib.postgres.indexes import OpClass
from django.db import models
from django.db.models.functions import Upper

from aggregator.postgres import PostgresOnlyGinIndex

NAME_MAX_LENGTH = 255
DESCRIPTION_MAX_LENGTH = 10_000
# "Never claimed": older than any schedule tick, so a new product is due at the next one.
NEVER = datetime(1970, 1, 1, tzinfo=UTC)


class Product(models.Model):
    """A product of ours, registered with the offers service so that its offers can be mirrored.

    Besides the catalogue fields it carries its sync state, which the worker updates with
    conditional updates (see offers_sync.sync): registration, the tick it was last claimed for,
    and the outcome of its last sync.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    description = models.TextField(max_length=DESCRIPTION_MAX_LENGTH, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Registration with the offers service: null until it accepted the product.
    registered_at = models.DateTimeField(null=True, blank=True)
    registration_attempts = models.PositiveIntegerField(default=0)
    # A pending product is not tried again before this (backoff after failures).
    next_registration_at = models.DateTimeField(null=True, blank=True)

    # Offer sync: the schedule tick a worker claimed this product for (no two workers fetch a
    # product for the same tick), when its offers were last mirrored, and the last failure.
    sync_claimed_for = models.DateTimeField(default=NEVER)
    sync_claimed_by = models.CharField(max_length=100, blank=True, default="")
    offers_synced_at = models.DateTimeField(null=True, blank=True)
    last_sync_error = models.CharField(max_length=500, blank=True, default="")
    last_sync_error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            # The list endpoint pages by (created_at, id).
            models.Index(fields=["created_at", "id"], name="product_created_id_idx"),
            # Workers claim the registered products not yet claimed for the current tick.
            models.Index(
                fields=["sync_claimed_for"],
                name="product_sync_due_idx",
                condition=models.Q(registered_at__isnull=False),
            ),
            # The worker looks for pending registrations that are due.
            models.Index(
                fields=["next_registration_at"],
                name="product_pending_reg_idx",
                condition=models.Q(registered_at__isnull=True),
            ),
            # ?search= (name__icontains, `UPPER(name) LIKE UPPER('%…%')`) on PostgreSQL: trigrams of
            # the same expression, so the planner can use it. Other databases scan.
            PostgresOnlyGinIndex(OpClass(Upper("name"), name="gin_trgm_ops"), name="product_name_trgm_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_registered(self) -> bool:
        return self.registered_at is not None
