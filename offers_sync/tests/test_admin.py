"""The offer sync's part of the product admin: its state on the page, the list and its filter."""

import pytest
from django.utils import timezone

from catalogue.models import Product
from offers_sync.tests.factories import make_product

pytestmark = pytest.mark.django_db


def test_the_list_filters_on_registration_and_shows_products_without_a_sync_state(admin_client):
    make_product("Registered kettle", registered_at=timezone.now())
    make_product("Pending mug")
    Product.objects.bulk_create([Product(name="Bulk teapot")])
    registered = admin_client.get("/admin/catalogue/product/?sync_state__registered_at__isempty=0").content.decode()
    pending = admin_client.get("/admin/catalogue/product/?sync_state__registered_at__isempty=1").content.decode()
    assert "Registered kettle" in registered and "Pending mug" not in registered
    assert "Pending mug" in pending and "Bulk teapot" in pending and "Registered kettle" not in pending


def test_the_change_page_shows_the_sync_state(admin_client):
    product = make_product("Kettle", last_sync_error="offers service answered 503", last_sync_error_at=timezone.now())
    page = admin_client.get(f"/admin/catalogue/product/{product.id}/change/").content.decode()
    assert "Offer sync" in page
    assert "offers service answered 503" in page
