"""Reads of the offer mirror and of the sync's health."""

import uuid
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from aggregator.sql import ValuesStatement
from offers_sync.models import Offer, SyncStatus

OFFER_API_FIELDS = ("id", "product_id", "price", "items_in_stock")


def offer_list_for_product(
    product_id: uuid.UUID,
    *,
    min_price: int | None = None,
    max_price: int | None = None,
    in_stock: bool | None = None,
) -> QuerySet:
    """The product's cached offers as plain dicts, cheapest first.

    Price bounds are inclusive; `in_stock` True keeps offers with items in stock, False sold-out ones.
    """
    offers = Offer.objects.filter(product_id=product_id)
    if min_price is not None:
        offers = offers.filter(price__gte=min_price)
    if max_price is not None:
        offers = offers.filter(price__lte=max_price)
    if in_stock is not None:
        offers = offers.filter(items_in_stock__gt=0) if in_stock else offers.filter(items_in_stock__lte=0)
    return offers.order_by("price", "id").values(*OFFER_API_FIELDS)


# `offer_list_for_product(product_id)` as one plain SQL statement: the API's hottest read, for which
# building and compiling the queryset cost more CPU than running it.
_offer_rows = ValuesStatement(Offer, OFFER_API_FIELDS, where="product_id", order_by=("price", "id"))


def offer_rows_for_product(product_id: uuid.UUID) -> list[dict[str, Any]]:
    """`offer_list_for_product(product_id)`'s rows, without filters, through one plain SQL statement."""
    return _offer_rows.fetch(product_id)


def last_sync_finished_at() -> datetime | None:
    """When a sync cycle last completed, or None before the first. Raises if the database is down."""
    return (
        SyncStatus.objects.filter(pk=SyncStatus.SINGLETON_ID).values_list("last_cycle_finished_at", flat=True).first()
    )
