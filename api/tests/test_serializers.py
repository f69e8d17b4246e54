"""The plain-dict product representation the hot endpoints use is the documented serializer's, byte for byte."""

import datetime
import json

import pytest
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from api.serializers import (
    PRODUCT_VALUES_FIELDS,
    ProductOutputSerializer,
    product_representation,
    product_values,
)
from catalogue.models import Product
from catalogue.tests.factories import ProductFactory
from offers_sync.tests.factories import ProductSyncStateFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def products():
    whole_second = timezone.now().replace(microsecond=0)
    synced = ProductFactory(name="Ünïcode “quotes” \u2028 and a tab\t", description="Registered and synced")
    ProductSyncStateFactory(
        product=synced,
        registered_at=timezone.now(),
        offers_synced_at=whole_second,  # isoformat() drops zero microseconds; both must agree
    )
    registered = ProductFactory(name="Empty description", description="")
    ProductSyncStateFactory(product=registered, registered_at=whole_second)
    # Inserted in bulk: no sync state until the worker's next cycle.
    (bulk,) = Product.objects.bulk_create([Product(name="Bulk")])
    return [ProductFactory(name="Plain"), synced, registered, bulk]


def test_values_rows_render_like_the_serializer(products):
    render = JSONRenderer().render
    rows = {row["id"]: row for row in Product.objects.values(*PRODUCT_VALUES_FIELDS)}
    for product in Product.objects.select_related("sync_state"):
        expected = render(ProductOutputSerializer(product).data)
        assert render(product_representation(rows[product.id])) == expected
        assert render(product_representation(product_values(product))) == expected


def test_api_answers_match_the_serializer(products, api_client):
    listed = api_client.get("/products").json()
    assert listed == _json([ProductOutputSerializer(p).data for p in Product.objects.all()])
    for product in Product.objects.all():
        assert api_client.get(f"/products/{product.id}").json() == _json(ProductOutputSerializer(product).data)


def test_an_instance_holding_another_zone_renders_like_the_serializer():
    berlin = datetime.timezone(datetime.timedelta(hours=1))
    moment = datetime.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=berlin)
    product = Product(name="x", created_at=moment, updated_at=moment)
    render = JSONRenderer().render
    assert render(product_representation(product_values(product))) == render(ProductOutputSerializer(product).data)


def _json(data):
    return json.loads(JSONRenderer().render(data))
