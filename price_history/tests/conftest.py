"""Fixtures for the price history tests: a product and a way to record what a sync would see."""

import uuid
from datetime import UTC, datetime

import pytest

from catalogue.tests.factories import ProductFactory
from offers_sync.client import OfferData
from price_history.tests.factories import record_events

T0 = datetime(2025, 3, 1, tzinfo=UTC)


@pytest.fixture
def product(db):
    return ProductFactory(name="Kettle")


@pytest.fixture
def record(product):
    """record(at, appeared=[(offer, price, stock)], changed=[...], vanished=[...], product=...) -> count."""

    def _record(at, *, appeared=(), changed=(), vanished=(), for_product=None):
        return record_events(
            (for_product or product).id,
            at,
            appeared=[OfferData(*row) for row in appeared],
            changed=[OfferData(*row) for row in changed],
            vanished=[OfferData(*row) for row in vanished],
        )

    return _record


@pytest.fixture
def offer_ids():
    """Offer ids in the offers service's style: UUID-shaped, not RFC 4122."""
    return [uuid.UUID(f"0885aab1-4da3-54c2-f626-{n:012x}") for n in range(1, 6)]
