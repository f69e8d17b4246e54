"""The cached offers endpoint: served from our database only."""

import uuid

import pytest

from catalogue.tests.factories import ProductFactory
from offers_sync.models import Offer
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
        {"id": str(o.id), "product_id": str(product.id), "price": o.price, "items_in_stock": o.items_in_stock}
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
    Offer.objects.bulk_create(
        Offer(id=uuid.uuid4(), product=product, price=i, items_in_stock=i) for i in range(100)
    )
    # One query when the product has offers (the common case); a second only to tell an empty list from a 404.
    with django_assert_max_num_queries(1):
        assert len(api_client.get(f"/products/{product.id}/offers").json()) == 100


def test_empty_list_and_unknown_product_take_at_most_two_queries(api_client, product, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        assert api_client.get(f"/products/{product.id}/offers").json() == []
    with django_assert_max_num_queries(2):
        assert api_client.get(f"/products/{uuid.uuid4()}/offers").status_code == 404
