"""The cached offers endpoint: served from our database only."""

import uuid
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.db.models import F

from api.offers import offer_rows
from api.serializers import OFFER_COLUMNS
from catalogue.tests.factories import ProductFactory
from offers_sync.client import OfferData
from offers_sync.models import Offer
from offers_sync.reconcile import offers_reconcile_many
from offers_sync.selectors import offer_list
from offers_sync.tests.factories import OfferFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def product():
    return ProductFactory(name="Mug")


def test_offers_are_listed_cheapest_first(api_client, product):
    other = ProductFactory(name="Other")
    offers = [
        OfferFactory(product=product, price=price, items_in_stock=stock)
        for price, stock in [(300, 1), (100, 0), (200, 5)]
    ]
    OfferFactory(product=other, price=1, items_in_stock=1)
    response = api_client.get(f"/products/{product.id}/offers")
    assert response.status_code == 200
    assert response.json() == [
        {
            "id": str(o.id),
            "product_id": str(product.id),
            "price": o.price,
            "items_in_stock": o.items_in_stock,
            "prior_price": None,
            "prior_price_since": None,
            "currency": "EUR",
        }
        for o in sorted(offers, key=lambda o: o.price)
    ]


def test_non_rfc4122_offer_ids_round_trip(api_client, product):
    odd_id = "0885aab1-4da3-54c2-f626-acc74bab381e"
    OfferFactory(id=uuid.UUID(odd_id), product=product, price=5, items_in_stock=1)
    assert api_client.get(f"/products/{product.id}/offers").json()[0]["id"] == odd_id


def test_product_without_offers_has_an_empty_list(api_client, product):
    response = api_client.get(f"/products/{product.id}/offers")
    assert response.status_code == 200
    assert response.json() == []


@pytest.mark.parametrize("product_id", ["623bad43-4d7b-46d1-8161-1b8523ae7507", "not-a-uuid"])
def test_unknown_product_is_404(api_client, product_id):
    response = api_client.get(f"/products/{product_id}/offers")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_query_count_does_not_grow_with_offers(api_client, product, django_assert_max_num_queries):
    Offer.objects.bulk_create(Offer(id=uuid.uuid4(), product=product, price=i, items_in_stock=i) for i in range(100))
    # One query when the product has offers (the common case); a second only to tell an empty list from a 404.
    with django_assert_max_num_queries(1):
        assert len(api_client.get(f"/products/{product.id}/offers").json()) == 100


def test_empty_list_and_unknown_product_take_at_most_two_queries(api_client, product, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        assert api_client.get(f"/products/{product.id}/offers").json() == []
    with django_assert_max_num_queries(2):
        assert api_client.get(f"/products/{uuid.uuid4()}/offers").status_code == 404


# -- prior prices and the currency, as a sync writes them -----------------------------------------

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
OFFER = uuid.UUID("0885aab1-4da3-54c2-f626-acc74bab3800")


def sync_at(at: datetime, product, *offers: tuple) -> None:
    answer = [OfferData(id=offer_id, price=price, items_in_stock=stock) for offer_id, price, stock in offers]
    with mock.patch("offers_sync.reconcile.timezone.now", return_value=at):
        offers_reconcile_many({product.id: answer})


def days_ago(days: int) -> datetime:
    return NOW - timedelta(days=days)


def offers_of(api_client, product, query: str = "") -> list[dict]:
    response = api_client.get(f"/products/{product.id}/offers{query}")
    assert response.status_code == 200
    return response.json()


@pytest.mark.parametrize("query", ["", "?in_stock=true"])  # the written-out read and the queryset
def test_each_offer_shows_its_prior_price_and_since_when(api_client, product, query):
    second = uuid.UUID("0885aab1-4da3-54c2-f626-acc74bab3801")
    sync_at(days_ago(40), product, (OFFER, 1000, 3))
    sync_at(days_ago(12), product, (OFFER, 1000, 3), (second, 1000, 2))
    sync_at(days_ago(10), product, (OFFER, 900, 3), (second, 1000, 2))
    sync_at(NOW, product, (OFFER, 800, 3), (second, 800, 2))
    first, other = offers_of(api_client, product, query)
    # 1,000 for 40 days, 900 for 10, 800 now: the lowest of the 30 days before 800 is 900.
    assert (first["id"], first["prior_price"]) == (str(OFFER), 900)
    assert first["prior_price_since"] == "2026-05-02T12:00:00Z"
    # Seen at 1,000 only 12 days ago: the lowest since its history starts.
    assert (other["prior_price"], other["prior_price_since"]) == (1000, "2026-05-20T12:00:00Z")
    assert first["currency"] == other["currency"] == "EUR"


def test_an_offers_first_price_has_no_prior_price(api_client, product):
    sync_at(NOW, product, (OFFER, 800, 3))
    [offer] = offers_of(api_client, product)
    assert offer["prior_price"] is None and offer["prior_price_since"] is None


def test_a_price_that_rose_shows_the_lower_one(api_client, product):
    sync_at(days_ago(3), product, (OFFER, 900, 3))
    sync_at(NOW, product, (OFFER, 1100, 3))
    [offer] = offers_of(api_client, product)
    assert (offer["price"], offer["prior_price"]) == (1100, 900)


def test_the_currency_is_the_deployments(api_client, product, settings):
    settings.CURRENCY = "JPY"
    sync_at(NOW, product, (OFFER, 800, 3))
    assert offers_of(api_client, product)[0]["currency"] == "JPY"


def test_the_written_out_read_equals_the_queryset(product):
    sync_at(days_ago(5), product, (OFFER, 900, 3), (uuid.uuid4(), 700, 0))
    sync_at(NOW, product, (OFFER, 800, 3), (uuid.uuid4(), 950, 1))
    assert offer_rows(product.id) == offer_rows(product.id, in_stock=None, min_price=None)
    queryset_rows = list(
        offer_list(product.id).values(
            *OFFER_COLUMNS, prior_price=F("prior__lowest_price"), prior_price_since=F("prior__lowest_price_since")
        )
    )
    assert offer_rows(product.id) == queryset_rows
    assert [row["prior_price"] for row in queryset_rows] == [900, None]
