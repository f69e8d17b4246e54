"""Reads of the offer mirror, of products with their sync state and of the sync's health."""

import uuid
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from aggregator.prepared import PreparedValuesQuery
from catalogue.models import Product
from catalogue.selectors import parse_product_id
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


_offer_rows_for_product = PreparedValuesQuery(
    lambda product_id: offer_list_for_product(product_id),
    field=Offer._meta.get_field("product"),
    marker=uuid.UUID(int=1),
)


def offer_rows_for_product(product_id: uuid.UUID) -> list[dict[str, Any]]:
    """`offer_list_for_product`'s rows without filters, its SQL compiled once: the API's hottest read."""
    return _offer_rows_for_product.fetch(product_id)


def last_sync_finished_at() -> datetime | None:
    """When a sync cycle last completed, or None before the first. Raises if the database is down."""
    return (
        SyncStatus.objects.filter(pk=SyncStatus.SINGLETON_ID).values_list("last_cycle_finished_at", flat=True).first()
    )


def product_with_sync_state_get(product_id: str | uuid.UUID) -> Product | None:
    """The product with its sync state loaded (one query), or None when there is none or the id is not a UUID."""
    product_uuid = parse_product_id(product_id)
    if product_uuid is None:
        return None
    return Product.objects.select_related("sync_state").filter(pk=product_uuid).first()
