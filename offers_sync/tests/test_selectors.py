"""The offers endpoint's plain SQL statement answers exactly what its queryset does."""

import uuid

import pytest

from catalogue.models import Product
from offers_sync.models import Offer
from offers_sync.selectors import offer_list_for_product, offer_rows_for_product

pytestmark = pytest.mark.django_db


@pytest.fixture
def products():
    several = Product.objects.create(name="Several offers")
    one = Product.objects.create(name="One offer")
    Product.objects.create(name="Another product's offers must not show")
    # Equal prices: the order between them is the offer id's, as in the queryset.
    for product, prices in [(several, [30, 10, 20, 10, 10]), (one, [5])]:
        for price in prices:
            Offer.objects.create(id=uuid.uuid4(), product=product, price=price, items_in_stock=price % 3)
    none = Product.objects.create(name="No offers")
    return several, one, none


def test_rows_equal_the_querysets_in_one_query(products, django_assert_num_queries):
    for product_id in [*(product.id for product in products), uuid.uuid4()]:
        with django_assert_num_queries(1):
            rows = offer_rows_for_product(product_id)
        assert rows == list(offer_list_for_product(product_id))
        assert all(type(row["id"]) is uuid.UUID and type(row["product_id"]) is uuid.UUID for row in rows)
    assert [row["price"] for row in offer_rows_for_product(products[0].id)] == [10, 10, 10, 20, 30]
    assert offer_rows_for_product(products[2].id) == []
