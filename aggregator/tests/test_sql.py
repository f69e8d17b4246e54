"""A plain SQL statement answers exactly what its `.values()` queryset would, one query each time;
an array literal reads back in PostgreSQL as the values it was made of."""

import uuid
from datetime import UTC, datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.core.exceptions import FieldDoesNotExist
from django.db import connection
from django.utils import timezone

from aggregator.pagination import keyset_page
from aggregator.sql import KeysetPageStatement, ValuesStatement, array_literal
from catalogue.models import Product
from offers_sync.models import Offer, ProductSyncState
from offers_sync.tests.factories import make_product

pytestmark = pytest.mark.django_db

# Catalogue columns and, through a LEFT JOIN, two of the one-to-one sync state's.
PRODUCT_FIELDS = (
    "id",
    "name",
    "description",
    "created_at",
    "sync_state__registered_at",
    "sync_state__offers_synced_at",
)


@pytest.fixture
def products():
    first = make_product("First", description="Described", registered_at=timezone.now())
    second = Product.objects.create(name="Second")  # nulls
    for product, prices in [(first, [30, 10, 20]), (second, [5])]:
        for price in prices:
            Offer.objects.create(id=uuid.uuid4(), product=product, price=price, items_in_stock=1)
    return first, second


def test_rows_equal_the_querysets_for_each_value(products, django_assert_num_queries):
    statement = ValuesStatement(Offer, ("id", "product_id", "price"), where="product_id", order_by=("price", "id"))
    for product in [*products, Product(name="unsaved")]:
        with django_assert_num_queries(1):
            rows = statement.fetch(product.id)
        assert rows == list(Offer.objects.filter(product=product.id).order_by("price", "id").values(*statement.names))
    assert [row["price"] for row in statement.fetch(products[0].id)] == [10, 20, 30]


def test_converted_columns_come_back_as_the_orm_gives_them(products):
    statement = ValuesStatement(Product, PRODUCT_FIELDS, where="id")
    for product in products:
        (row,) = statement.fetch(str(product.id))  # a string id is accepted like the ORM accepts it
        assert row == Product.objects.filter(pk=product.pk).values(*PRODUCT_FIELDS).get()
        assert type(row["id"]) is uuid.UUID
        assert row["created_at"].tzinfo is not None
    assert statement.fetch(uuid.uuid4()) == []


def test_a_product_without_its_one_to_one_row_reads_nulls_as_the_orm_does(products):
    ProductSyncState.objects.filter(product=products[0]).delete()  # as after a bulk insert by SQL
    statement = ValuesStatement(Product, PRODUCT_FIELDS, where="id")
    (row,) = statement.fetch(products[0].id)
    assert row == Product.objects.filter(pk=products[0].pk).values(*PRODUCT_FIELDS).get()
    assert row["sync_state__registered_at"] is None


def test_a_field_the_model_lacks_is_refused_at_once():
    with pytest.raises(FieldDoesNotExist):
        ValuesStatement(Product, ("id", "no_such_field"), where="id")


def test_keyset_pages_equal_the_querysets_pages_also_across_equal_timestamps(django_assert_num_queries):
    same_moment = timezone.now()
    created = [make_product(f"P{n}", registered_at=same_moment if n % 2 else None) for n in range(7)]
    # Three share one created_at: the id decides their order, on both sides of a cursor.
    Product.objects.filter(pk__in=[p.pk for p in created[2:5]]).update(created_at=same_moment)
    statement = KeysetPageStatement(Product, PRODUCT_FIELDS, ordering_field="created_at")
    ordered = Product.objects.order_by("created_at", "id").values(*PRODUCT_FIELDS)
    walked, after = [], None
    while True:
        with django_assert_num_queries(1):
            page = statement.fetch(after, 2)
        if not page:
            break
        # The queryset's page as the API's pagination cuts it.
        assert page == keyset_page(ordered, "created_at", after=after, limit=2)
        walked += page
        after = (page[-1]["created_at"], page[-1]["id"])
    assert walked == list(ordered)
    assert statement.fetch(None, 100) == list(ordered)


ARRAYS = [
    ("uuid", [uuid.UUID("0885aab1-4da3-54c2-f626-acc74bab381e"), uuid.UUID(int=0), uuid.UUID(int=2**128 - 1)]),
    ("bigint", [0, 1, -5, 2**63 - 1]),
    ("timestamptz", [datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
                     datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt_timezone(timedelta(hours=-3)))]),
    ("varchar", ["appeared", "changed", "vanished", "NULL", "null"]),
    ("uuid", []),
]  # fmt: skip


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's array input")
@pytest.mark.parametrize(("kind", "values"), ARRAYS, ids=[f"{kind}-{len(values)}" for kind, values in ARRAYS])
def test_an_array_literal_reads_back_as_its_values(kind, values):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT %s::{kind}[]", [array_literal(values)])
        assert cursor.fetchone()[0] == values


@pytest.mark.parametrize("value", [None, True, "two words", "quo'te", "{brace}", "a,b", datetime(2026, 1, 1), 1.5])
def test_an_array_literal_refuses_what_it_cannot_write_plainly(value):
    with pytest.raises(ValueError):
        array_literal([value])
