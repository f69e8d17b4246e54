"""Reads of the offer mirror, of the products' sync state and of the sync's health."""

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Exists, Min, OuterRef, Q, QuerySet
from django.utils import timezone

from catalogue.models import Product
from offers_sync.models import FULL_STATE_CHECK_EVERY, Offer, ProductSyncState, SyncRun, SyncStatus
from offers_sync.schedule import InvalidSchedule, parse_schedule


def offer_list(
    product_id: uuid.UUID,
    *,
    min_price: int | None = None,
    max_price: int | None = None,
    in_stock: bool | None = None,
) -> QuerySet[Offer]:
    """The product's cached offers, cheapest first (by id among equal prices).

    Price bounds are inclusive; `in_stock` True keeps offers with items in stock, False sold-out ones.
    """
    offers = Offer.objects.filter(product_id=product_id)
    if min_price is not None:
        offers = offers.filter(price__gte=min_price)
    if max_price is not None:
        offers = offers.filter(price__lte=max_price)
    if in_stock is not None:
        offers = offers.filter(items_in_stock__gt=0) if in_stock else offers.filter(items_in_stock__lte=0)
    return offers.order_by("price", "id")


def offer_counts_and_best_prices(product_ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[int, int | None]]:
    """Each product's number of offers and its cheapest in-stock price, for a page of products.

    One grouped query over the (product, price, id) index for just these products; a product
    without offers is left out.
    """
    if not product_ids:
        return {}
    rows = (
        Offer.objects.filter(product_id__in=product_ids)
        .order_by()
        .values("product_id")
        .annotate(offers=Count("id"), best=Min("price", filter=Q(items_in_stock__gt=0)))
        .values_list("product_id", "offers", "best")
    )
    return {product_id: (offers, best) for product_id, offers, best in rows}


def last_sync_finished_at() -> datetime | None:
    """When a sync cycle last completed, or None before the first. Raises if the database is down."""
    return (
        SyncStatus.objects.filter(pk=SyncStatus.SINGLETON_ID).values_list("last_cycle_finished_at", flat=True).first()
    )


# -- the sync's state, for the metrics and the admin's sync status page ---------------------------
# A product without a sync state row yet (inserted in bulk, before the worker's next cycle) reads
# as pending.


_STATUS_FIELDS = (
    "registered_at",
    "offers_synced_at",
    "last_sync_error",
    "last_sync_error_at",
    "registration_attempts",
    "next_registration_at",
)


def sync_stale_before(now: datetime) -> datetime | None:
    """Offers mirrored before this are stale (two schedule intervals ago); None when the sync is off."""
    try:
        schedule = parse_schedule(settings.SYNC_SCHEDULE)
    except InvalidSchedule:
        return None  # the worker refuses to start with it; the web just has no threshold
    if schedule is None:
        return None
    return now - timedelta(seconds=2 * schedule.interval_after(now))


def _stale(stale_before: datetime, *, prefix: str = "sync_state__") -> Q:
    # Registered, and mirrored before the threshold, or never mirrored though registered before it.
    # `prefix` is the path from the queried model to the sync state ("" on ProductSyncState itself).
    return Q(**{f"{prefix}registered_at__isnull": False}) & (
        Q(**{f"{prefix}offers_synced_at__lt": stale_before})
        | Q(**{f"{prefix}offers_synced_at__isnull": True, f"{prefix}registered_at__lt": stale_before})
    )


def sync_gauges(*, now: datetime | None = None) -> dict[str, Any]:
    """The metrics' database gauges in three short queries.

    `registered` and `pending` products (not yet accepted by the offers service, a product without
    a sync state row included), `stale` ones (see `sync_stale_before`; 0 when the sync is off) and
    `last_success`, when a cycle last completed. The counts read each table on its own, never
    joined: every sync state belongs to a product, so the products without one are the catalogue's
    count less the states'.
    """
    now = now or timezone.now()
    stale_before = sync_stale_before(now)
    counts = {
        "states": Count("pk"),
        "registered": Count("pk", filter=Q(registered_at__isnull=False)),
        "pending_states": Count("pk", filter=Q(registered_at__isnull=True)),
    }
    if stale_before is not None:
        counts["stale"] = Count("pk", filter=_stale(stale_before, prefix=""))
    state_counts = ProductSyncState.objects.aggregate(**counts)
    stateless = max(0, Product.objects.count() - state_counts.pop("states"))
    gauges = {"stale": 0, **state_counts}
    gauges["pending"] = gauges.pop("pending_states") + stateless
    return {**gauges, "last_success": last_sync_finished_at()}


# A product inserted without its sync state gets one at the worker's next cycle, if it was created
# lately, or at the worker's hourly look through the whole catalogue: an older product without one
# is there only while no worker runs.
STATELESS_PRODUCTS_WITHIN = 2 * FULL_STATE_CHECK_EVERY


def products_registered(products: QuerySet) -> QuerySet:
    """Those of `products` the offers service has accepted."""
    return products.filter(sync_state__registered_at__isnull=False)


def products_not_registered(products: QuerySet, *, now: datetime) -> QuerySet:
    """Those of `products` the offers service has not accepted yet: pending, or without a sync state.

    Of the products without a sync state only those created in the last STATELESS_PRODUCTS_WITHIN
    are looked for. The pending ones come from the partial index of pending registrations and the
    stateless ones from the products' (created_at, id) index, together a short list of ids; a
    LEFT JOIN of the catalogue with every sync state, which would find both, reads both tables
    whole even when there is nothing to find.
    """
    pending = ProductSyncState.objects.filter(registered_at__isnull=True).values("product_id")
    stateless = (
        Product.objects.filter(created_at__gte=now - STATELESS_PRODUCTS_WITHIN)
        .filter(~Exists(ProductSyncState.objects.filter(product_id=OuterRef("pk"))))
        .order_by()
        .values("id")
    )
    return products.filter(pk__in=pending.union(stateless, all=True))


def products_stale(*, now: datetime, limit: int) -> list[Product]:
    """Up to `limit` stale products, the longest unsynced first (none when the sync is off)."""
    stale_before = sync_stale_before(now)
    if stale_before is None:
        return []
    return list(
        Product.objects.filter(_stale(stale_before))
        .select_related("sync_state")
        .order_by("sync_state__offers_synced_at", "sync_state__registered_at")
        .only("id", "name", *(f"sync_state__{name}" for name in _STATUS_FIELDS))[:limit]
    )


def products_pending(*, now: datetime, limit: int) -> list[Product]:
    """Up to `limit` products the offers service has not accepted yet (`products_not_registered`), oldest first."""
    return list(
        products_not_registered(Product.objects.all(), now=now)
        .select_related("sync_state")
        .order_by("created_at", "id")
        .only("id", "name", "created_at", *(f"sync_state__{name}" for name in _STATUS_FIELDS))[:limit]
    )


def sync_runs_latest(*, limit: int) -> list[SyncRun]:
    return list(SyncRun.objects.order_by("-started_at", "-id")[:limit])


def sync_runs_since(since: datetime) -> list[SyncRun]:
    """Every worker's cycles that started after `since`, oldest first (the status page's chart)."""
    return list(
        SyncRun.objects.filter(started_at__gte=since)
        .order_by("started_at", "id")
        .only("started_at", "outcome", "products_synced", "products_failed", "duration_seconds")
    )
