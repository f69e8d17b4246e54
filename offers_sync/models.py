"""The local mirror of the offers service: offers, the shared access token and sync health."""

from django.db import models

from catalogue.models import Product


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
    """The offers service's current access token, one row shared by every process.

    The service refuses a new access token while another is still valid, so the token must
    outlive the process that asked for it. The refresh claim serialises refreshing across
    processes: whoever sets it with a conditional update is the only one to call /auth. The
    update names the `version` the claimant saw, so a process whose view of the row is stale
    (another renewed the token meanwhile) cannot claim, and the claim names the attempt that
    holds it, so only that attempt releases it.
    """

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
