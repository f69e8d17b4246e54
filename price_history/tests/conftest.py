"""Fixtures for the price history tests: a product and a way to record what a sync would see."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from catalogue.tests.factories import ProductFactory
from price_history.services import offer_events_record

T0 = datetime(2025, 3, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Seen:
    """An offer as the reconciler passes it: id, price, items in stock."""

    id: uuid.UUID
    price: int
    items_in_stock: int


@pytest.fixture
def product(db):
    return ProductFactory(name="Kettle")


@pytest.fixture
def record(product):
    """record(at, appeared=[(offer, price, stock)], changed=[...], vanished=[...], product=...) -> count."""

    def _record(at, *, appeared=(), changed=(), vanished=(), for_product=None):
        return offer_events_record(
            product_id=(for_product or product).id,
            appeared=[Seen(*row) for row in appeared],
            changed=[Seen(*row) for row in changed],
            vanished=[Seen(*row) for row in vanished],
            observed_at=at,
        )

    return _record


@pytest.fixture
def offer_ids():
    """Offer ids in the offers service's style: UUID-shaped, not RFC 4122."""
    return [uuid.UUID(f"0885aab1-4da3-54c2-f626-{n:012x}") for n in range(1, 6)]
