"""A prepared query answers exactly what its queryset would, for any value, one query each time."""

import uuid

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q
from django.utils import timezone

from aggregator.prepared import PreparedValuesQuery
from catalogue.models import Product
from catalogue.tests.factories import ProductFactory
from offers_sync.models import Offer
from offers_sync.tests.factories import OfferFactory, make_product

pytestmark = pytest.mark.django_db

MARKER = uuid.UUID(int=1)


def offers_of(product_id):
    return Offer.objects.filter(product_id=product_id).order_by("price", "id").values("id", "product_id", "price")


@pytest.fixture
def products():
    first = make_product("First", registered_at=timezone.now())
    second = ProductFactory(name="Second")
    for product, prices in [(first, [30, 10, 20]), (second, [5])]:
        for price in prices:
            OfferFactory(product=product, price=price, items_in_stock=1)
    return first, second


def test_rows_equal_the_querysets_for_each_value(products, django_assert_num_queries):
    prepared = PreparedValuesQuery(offers_of, field=Offer._meta.get_field("product"), marker=MARKER)
    for product in [*products, Product(name="unsaved")]:
        with django_assert_num_queries(1):
            rows = prepared.fetch(product.id)
        assert rows == list(offers_of(product.id))
    assert [row["price"] for row in prepared.fetch(products[0].id)] == [10, 20, 30]


def test_converted_columns_come_back_as_the_orm_gives_them(products):
    fields = ("id", "name", "created_at", "sync_state__registered_at")
    prepared = PreparedValuesQuery(
        lambda pk: Product.objects.filter(pk=pk).values(*fields), field=Product._meta.pk, marker=MARKER
    )
    for product in products:
        (row,) = prepared.fetch(str(product.id))  # a string id is accepted like the ORM accepts it
        assert row == Product.objects.filter(pk=product.pk).values(*fields).get()
        assert isinstance(row["id"], uuid.UUID)
        assert row["created_at"].tzinfo is not None


@pytest.mark.parametrize(
    "build",
    [
        lambda value: Offer.objects.values("id"),  # the parameter is not used
        lambda value: Offer.objects.filter(Q(product_id=value) | Q(id=value)).values("id"),  # used twice
        lambda value: Offer.objects.filter(product_id=value),  # not a .values() queryset
    ],
)
def test_a_query_it_cannot_prepare_is_refused(products, build):
    with pytest.raises(ImproperlyConfigured):
        PreparedValuesQuery(build, field=Offer._meta.get_field("product"), marker=MARKER).fetch(products[0].id)
