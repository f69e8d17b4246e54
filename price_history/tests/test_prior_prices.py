"""Each offer's prior price: its lowest price in the window before its current price took effect."""

import uuid
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest

from catalogue.tests.factories import ProductFactory
from offers_sync.client import OfferData
from offers_sync.reconcile import offers_reconcile_many
from price_history.models import PriorPrice
from price_history.services import price_events_prune

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
OFFER = uuid.UUID("0885aab1-4da3-54c2-f626-acc74bab381e")
OTHER = uuid.UUID("0885aab1-4da3-54c2-f626-acc74bab381f")


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


@pytest.fixture
def product():
    return ProductFactory(name="Kettle")


@pytest.fixture
def sync(product):
    """sync(at, (offer, price, stock), ...): what a sync at `at` writes for the product's answer."""

    def _sync(at: datetime, *offers: tuple) -> None:
        answer = [OfferData(id=offer_id, price=price, items_in_stock=stock) for offer_id, price, stock in offers]
        with mock.patch("offers_sync.reconcile.timezone.now", return_value=at):
            offers_reconcile_many({product.id: answer})

    return _sync


def prior(offer_id=OFFER) -> tuple:
    row = PriorPrice.objects.filter(offer_id=offer_id).values_list("lowest_price", "lowest_price_since").first()
    return row or (None, None)


def test_the_lowest_price_of_the_window_before_the_current_price(sync):
    sync(days_ago(50), (OFFER, 1000, 3))
    sync(days_ago(10), (OFFER, 900, 3))
    sync(NOW, (OFFER, 800, 3))
    # 1,000 was in force until 10 days ago, 900 since: the lowest of the 30 days before 800 is 900.
    assert prior() == (900, days_ago(30))


def test_a_history_shorter_than_the_window_says_where_it_starts(sync):
    sync(days_ago(12), (OFFER, 1000, 3))
    sync(NOW, (OFFER, 800, 3))
    assert prior() == (1000, days_ago(12))


def test_a_price_in_force_at_the_windows_start_counts(sync):
    sync(days_ago(100), (OFFER, 700, 3))
    sync(days_ago(40), (OFFER, 1200, 3))
    sync(NOW, (OFFER, 1100, 3))
    # 700 ended 40 days ago, before the window: only 1,200 was in force during it.
    assert prior() == (1200, days_ago(30))


def test_a_price_that_rose_shows_the_lower_one_before(sync):
    sync(days_ago(5), (OFFER, 900, 3))
    sync(NOW, (OFFER, 1100, 3))
    assert prior() == (900, days_ago(5))


def test_an_offers_first_price_has_none(sync):
    sync(NOW, (OFFER, 800, 3))
    assert prior() == (None, None)


def test_a_stock_change_keeps_the_prior_price_of_the_same_price(sync):
    sync(days_ago(20), (OFFER, 1000, 3))
    sync(days_ago(2), (OFFER, 800, 3))
    sync(NOW, (OFFER, 800, 0))
    assert prior() == (1000, days_ago(20))
    assert PriorPrice.objects.get(offer_id=OFFER).price_since == days_ago(2)


def test_a_vanished_offer_has_none_and_a_reappearing_one_counts_only_the_prices_it_had(sync):
    sync(days_ago(60), (OFFER, 500, 3), (OTHER, 10, 1))
    sync(days_ago(45), (OTHER, 10, 1))  # OFFER vanishes at 500
    assert not PriorPrice.objects.filter(offer_id=OFFER).exists()
    sync(NOW, (OFFER, 900, 3), (OTHER, 10, 1))
    # It had no price in the last 30 days (gone since 45 days ago): nothing earlier to show.
    assert prior() == (None, None)


def test_the_window_is_a_setting(sync, settings):
    settings.PRIOR_PRICE_DAYS = 7
    sync(days_ago(10), (OFFER, 1000, 3))
    sync(days_ago(5), (OFFER, 900, 3))
    sync(NOW, (OFFER, 800, 3))
    assert prior() == (900, days_ago(7))


def test_pruning_the_history_changes_no_prior_price(sync, settings):
    sync(days_ago(50), (OFFER, 1000, 3))
    sync(days_ago(10), (OFFER, 900, 3))
    sync(NOW, (OFFER, 800, 3))
    before = prior()
    price_events_prune(older_than=days_ago(1))
    assert prior() == before == (900, days_ago(30))
    # A later change sees what retention kept: the price in force at the cutoff, from its event on.
    sync(NOW + timedelta(days=1), (OFFER, 850, 3))
    assert prior() == (800, days_ago(10))


def test_deleting_the_product_deletes_its_prior_prices(sync, product):
    sync(days_ago(5), (OFFER, 900, 3))
    sync(NOW, (OFFER, 800, 3))
    product.delete()
    assert not PriorPrice.objects.exists()
