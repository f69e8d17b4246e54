"""What offers cost over time: one row per observed change of an offer, written by the sync."""

from django.db import models
from django.db.models import BigIntegerField, Func

from catalogue.models import Product


class CurrentTransactionId(Func):
    """The writing transaction's id on PostgreSQL (64-bit, never wraps); 0 elsewhere.

    Used as the database default of `PriceEvent.xact_id`, so every insert gets it with no extra query.
    SQLite has one writer at a time, so there the ids alone are in commit order.
    """

    output_field = BigIntegerField()

    def as_sql(self, compiler, connection, **extra_context):
        return "0", []

    def as_postgresql(self, compiler, connection, **extra_context):
        return "(pg_current_xact_id()::text::bigint)", []


class PriceEvent(models.Model):
    """An offer appeared, changed price or stock, or vanished, as seen by one reconcile.

    Unchanged offers write nothing, so the table grows with change, not with time. The offer is
    referred to by its id only: the mirrored `Offer` row is deleted when the offer vanishes, and
    its history must outlive it. For a vanished offer, price and stock are the last known ones.
    """

    class Kind(models.TextChoices):
        APPEARED = "appeared"
        CHANGED = "changed"
        VANISHED = "vanished"

    offer_id = models.UUIDField(help_text="The offers service's id of the offer (not an RFC 4122 UUID).")
    # No single-column index: the (product, observed_at, id) index below serves the same lookups,
    # including the cascade when a product is deleted, and one index fewer is cheaper to write.
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="price_events", db_index=False)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    price = models.BigIntegerField(help_text="In minor currency units.")
    items_in_stock = models.BigIntegerField()
    observed_at = models.DateTimeField(help_text="When the sync saw the change.")
    # The changes feed (GET /offers/changes) walks events in (xact_id, id) order and serves only
    # events of transactions that have ended, so a slow transaction's events are never skipped.
    xact_id = models.BigIntegerField(db_default=CurrentTransactionId(), editable=False)

    class Meta:
        indexes = [
            # A product's history and price trend walk its events in (observed_at, id) order.
            models.Index(fields=["product", "observed_at", "id"], name="priceevent_product_time_idx"),
            # Each offer's events newest first: the trend's state at the start of a period (latest event
            # per offer, read in this order without a sort), ?offer= on the history (scanned backwards)
            # and retention's check for a newer event of the same offer.
            models.Index(fields=["product", "offer_id", "-observed_at", "-id"], name="priceevent_product_offer_idx"),
            # The changes feed pages on (xact_id, id).
            models.Index(fields=["xact_id", "id"], name="priceevent_xact_idx"),
            # Retention deletes the oldest events, across products.
            models.Index(fields=["observed_at"], name="priceevent_observed_idx"),
            # The admin's list filtered by kind, newest first: without it a kind absent from the
            # newest millions of events (all "appeared" after a first sync) is looked for in all of them.
            models.Index(fields=["kind", "observed_at", "id"], name="priceevent_kind_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.offer_id} at {self.observed_at:%Y-%m-%d %H:%M:%S}"


class PriorPrice(models.Model):
    """An offer's lowest price in the PRIOR_PRICE_DAYS before its current price took effect.

    What the EU's price-reduction rule (Directive 98/6/EC, Article 6a) asks a shop to show beside a
    reduced price. It is worked out once, when the offer's price takes effect (the offer appears or
    its price changes), from the events recorded before; stock-only changes leave it as it is, and
    reads join it to the offer. An offer without a row has no earlier price (its first, or its first
    since it came back after the window). See price_history.prior_prices.
    """

    # No database constraint: the sync deletes vanished offers with plain SQL, and this row goes with
    # them in the same transaction (price_history.prior_prices), or with the product below.
    offer = models.OneToOneField(
        "offers_sync.Offer",
        primary_key=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="prior",
    )
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    price_since = models.DateTimeField(help_text="When the offer's current price took effect.")
    lowest_price = models.BigIntegerField(help_text="In minor currency units.")
    lowest_price_since = models.DateTimeField(
        help_text="Start of the period the lowest price covers: the window's start, or where the history starts.",
    )

    def __str__(self) -> str:
        return f"prior price of {self.offer_id}: {self.lowest_price}"
