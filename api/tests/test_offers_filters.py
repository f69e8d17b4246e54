"""Filters on the cached offers endpoint: GET /products/{id}/offers?min_price=&max_price=&in_stock=."""

import uuid

import pytest

from catalogue.tests.factories import ProductFactory
from offers_sync.models import Offer
from offers_sync.tests.factories import OfferFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def product():
    product = ProductFactory(name="Mug")
    for price, stock in [(100, 0), (200, 3), (300, 1), (400, 0)]:
        OfferFactory(product=product, price=price, items_in_stock=stock)
    return product


def _prices(api_client, product, query):
    response = api_client.get(f"/products/{product.id}/offers?{query}")
    assert response.status_code == 200, response.content
    return [offer["price"] for offer in response.json()]


@pytest.mark.parametrize(
    ("query", "prices"),
    [
        ("min_price=200", [200, 300, 400]),
        ("max_price=300", [100, 200, 300]),
        ("min_price=200&max_price=300", [200, 300]),
        ("min_price=250&max_price=250", []),
        ("in_stock=true", [200, 300]),
        ("in_stock=false", [100, 400]),
        ("in_stock=true&max_price=250", [200]),
        ("min_price=&max_price=&in_stock=", [100, 200, 300, 400]),
        ("unrelated=1", [100, 200, 300, 400]),
    ],
)
def test_filters_keep_the_matching_offers_cheapest_first(api_client, product, query, prices):
    assert _prices(api_client, product, query) == prices


def test_filtered_items_keep_their_shape(api_client, product):
    offer = Offer.objects.get(price=300)
    assert api_client.get(f"/products/{product.id}/offers?min_price=300&in_stock=true").json() == [
        {
            "id": str(offer.id),
            "product_id": str(product.id),
            "price": 300,
            "items_in_stock": 1,
            "prior_price": None,
            "prior_price_since": None,
            "currency": "EUR",
        }
    ]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("min_price=cheap", "min_price"),
        ("min_price=1.5", "min_price"),
        ("min_price=5.0", "min_price"),
        ("max_price=-1", "max_price"),
        ("max_price=1e3", "max_price"),
        ("max_price=99999999999999999999", "max_price"),
        ("min_price=300&max_price=200", "min_price"),
        ("in_stock=maybe", "in_stock"),
    ],
)
def test_bad_values_are_400_field_errors(api_client, product, query, field):
    response = api_client.get(f"/products/{product.id}/offers?{query}")
    assert response.status_code == 400
    body = response.json()
    assert list(body) == [field]
    assert isinstance(body[field], list) and body[field]


def test_unknown_product_is_404_before_filters_are_read(api_client):
    response = api_client.get(f"/products/{uuid.uuid4()}/offers?min_price=nope")
    assert response.status_code == 404


def test_filters_cost_no_extra_query(api_client, product, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        assert _prices(api_client, product, "min_price=150&max_price=350&in_stock=true") == [200, 300]
