"""The local mirror of the offers service: offers, each product's sync state, the shared access
token and sync health."""

from datetime import UTC, datetime, timedelta

from django.db import models

from catalogue.models import Product

# "Never claimed": older than any schedule tick, so a new product is due at the next one.
NEVER = datetime(1970, 1, 1, tzinfo=UTC)

# Products inserted in bulk get their sync state from the worker (offers_sync.sync): each cycle
# looks at those created lately (cheap, through an index), and the whole catalogue is checked at
# start and every hour (for rows stamped long before they were committed, or by another clock).
# The admin's and the status page's reads rely on the same rule (offers_sync.selectors).
RECENT_PRODUCTS = timedelta(minutes=10)
FULL_STATE_CHECK_EVERY = timedelta(hours=1)


class ProductSyncState(models.Model):
    """The sync's bookkeeping for one product: registration, the tick it was claimed for, last outcome.

    One row per product, keyed by the product's id, so the catalogue knows nothing of who mirrors
    its offers. The worker updates it with conditional updates (see offers_sync.sync). A product
    created with `save()` gets its row in the same transaction (offers_sync.receivers); one
    inserted in bulk gets it from the worker's next cycle (`product_sync_states_create_missing`).
    Until then the product reads as not registered and never synced.
    """

    product = models.OneToOneField(
        Product, on_delete=models.CASCADE, primary_key=True, related_name="sync_state", editable=False
    )
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
        indexes = [
            # Workers claim the registered products not yet claimed for the current tick.
            models.Index(
                fields=["sync_claimed_for"],
                name="sync_state_due_idx",
                condition=models.Q(registered_at__isnull=False),
            ),
            # The worker looks for pending registrations that are due.
            models.Index(
                fields=["next_registration_at"],
                name="sync_state_pending_reg_idx",
                condition=models.Q(registered_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"sync state of {self.product_id}"


class Offer(models.Model):
    """One offer for a product, as the offers service last reported it.

    The id is the offers service's. Its ids look like UUIDs but are not RFC 4122 ones, so they are
    stored as plain 128-bit values and never checked for version or variant.
    """

    id = models.UUIDField(primary_key=True, editable=False)
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="offers")
    price = models.BigIntegerField(help_text="In minor currency units.")
    items_in_stock = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            # GET /products/{id}/offers reads a product's offers ordered by price.
            models.Index(fields=["product", "price", "id"], name="offer_product_price_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.id} ({self.price})"


class AccessToken(models.Model):
    """The offers service's current access token, one row shared by every process, and the claim
    that elects the one process to renew it (how and why: offers_sync.tokens)."""

    SINGLETON_ID = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_ID, editable=False)
    token = models.TextField(blank=True, default="")
    expires_at = models.DateTimeField(null=True, blank=True)
    # Bumped by every change of the token's state: a new token, an invalidation, a refusal.
    version = models.PositiveBigIntegerField(default=0)
    refresh_claimed_until = models.DateTimeField(null=True, blank=True)
    # The refresh attempt holding the claim (a random id per attempt); empty when unclaimed.
    refresh_claimed_by = models.CharField(max_length=32, blank=True, default="")
    # Not before this may /auth be asked again (after it said another token is still valid).
    auth_blocked_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"access token expiring {self.expires_at}"  # never the token itself


class SyncStatus(models.Model):
    """Health of the sync as a whole: when the last cycle started and completed, and its counts."""

    SINGLETON_ID = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_ID, editable=False)
    last_cycle_started_at = models.DateTimeField(null=True, blank=True)
    last_cycle_finished_at = models.DateTimeField(null=True, blank=True)
    last_cycle_summary = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name_plural = "sync status"

    def __str__(self) -> str:
        return f"last cycle finished {self.last_cycle_finished_at}"


class SyncRun(models.Model):
    """One sync cycle of one worker: when, how it ended, its counts and where its time went.

    Written by the worker at the end of each cycle (also one that was skipped or failed), kept
    SYNC_RUNS_DAYS and pruned hourly by the worker (offers_sync.sync_runs).
    """

    class Outcome(models.TextChoices):
        COMPLETED = "completed"
        STOPPED = "stopped", "stopped early (worker shutting down)"
        SKIPPED = "skipped", "skipped (no access token)"
        FAILED = "failed", "failed (database unavailable)"

    # The id in the cycle's log lines (`cycle_id=…`).
    cycle_id = models.CharField(max_length=32)
    worker = models.CharField(max_length=100)
    tick = models.DateTimeField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    # Why a cycle was skipped or failed; empty when it ran.
    reason = models.CharField(max_length=500, blank=True, default="")
    products_synced = models.PositiveIntegerField(default=0)
    products_failed = models.PositiveIntegerField(default=0)
    products_unregistered = models.PositiveIntegerField(default=0)
    products_registered = models.PositiveIntegerField(default=0)
    registrations_failed = models.PositiveIntegerField(default=0)
    offers_added = models.PositiveIntegerField(default=0)
    offers_changed = models.PositiveIntegerField(default=0)
    offers_removed = models.PositiveIntegerField(default=0)
    duration_seconds = models.FloatField(default=0.0)
    seconds_claiming = models.FloatField(default=0.0)
    seconds_waiting = models.FloatField(default=0.0)
    seconds_reconciling = models.FloatField(default=0.0)
    # {reason: number of products} for the products that failed this cycle.
    failures = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            # The admin lists newest first, the chart reads the last day, pruning deletes the oldest.
            models.Index(fields=["started_at", "id"], name="sync_run_started_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.worker} {self.tick.isoformat(timespec='seconds')} {self.outcome}"
