"""Reads of the offer mirror and of the sync's health."""

import uuid
from datetime import datetime

from django.db.models import QuerySet

from offers_sync.models import Offer, SyncStatus

OFFER_API_FIELDS = ("id", "product_id", "price", "items_in_stock")


def offer_list_for_product(product_id: uuid.UUID) -> QuerySet:
    """The product's cached offers as plain dicts, cheapest first (the API's hot path)."""
    return Offer.objects.filter(product_id=product_id).order_by("price", "id").values(*OFFER_API_FIELDS)


def last_sync_finished_at() -> datetime | None:
    """When a sync cycle last completed, or None before the first. Raises if the database is down."""
    return (
        SyncStatus.objects.filter(pk=SyncStatus.SINGLETON_ID)
        .values_list("last_cycle_finished_at", flat=True)
        .first()
    )
