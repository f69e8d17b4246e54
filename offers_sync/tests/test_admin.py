"""The offer sync's part of the product admin: its state on the page, the list and its filter."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalogue.models import Product
from offers_sync.tests.factories import make_product

pytestmark = pytest.mark.django_db

PRODUCTS = "/admin/catalogue/product/"


@pytest.fixture
def registration_mix(db):
    """A registered product, a pending one, one inserted in bulk (no sync state yet), and one
    created long ago that still has no sync state (no worker has run since)."""
    make_product("Registered kettle", registered_at=timezone.now())
    make_product("Pending mug", last_sync_error="registration failed: offers service answered 503")
    Product.objects.bulk_create([Product(name="Bulk teapot"), Product(name="Forgotten lamp")])
    Product.objects.filter(name="Forgotten lamp").update(created_at=timezone.now() - timedelta(days=2))


def names_listed(admin_client, query: str = "") -> set[str]:
    response = admin_client.get(PRODUCTS + query)
    assert response.status_code == 200
    return set(re.findall(r'<th class="field-name"><a [^>]*>([^<]*)</a>', response.content.decode()))


def test_the_list_filters_on_registration_and_finds_products_without_a_sync_state(admin_client, registration_mix):
    assert names_listed(admin_client, "?sync_state__registered_at__isempty=0") == {"Registered kettle"}
    assert names_listed(admin_client, "?sync_state__registered_at__isempty=1") == {"Pending mug", "Bulk teapot"}
    assert names_listed(admin_client) == {"Registered kettle", "Pending mug", "Bulk teapot", "Forgotten lamp"}


def test_the_registration_filter_keeps_djangos_choices(admin_client, registration_mix):
    html = admin_client.get(PRODUCTS).content.decode()
    choices = re.findall(r'<a href="(\?[^"]*)"[^>]*>(All|Empty|Not empty)</a>', html)
    assert choices == [
        ("?", "All"),
        ("?sync_state__registered_at__isempty=1", "Empty"),
        ("?sync_state__registered_at__isempty=0", "Not empty"),
    ]
    response = admin_client.get(PRODUCTS + "?sync_state__registered_at__isempty=maybe")
    assert response.status_code == 302 and "e=1" in response["Location"]


def test_the_list_shows_each_products_sync_state_in_the_same_queries_however_many(
    admin_client, django_assert_max_num_queries, registration_mix
):
    html = admin_client.get(PRODUCTS).content.decode()
    rows = dict(re.findall(r'<a href="[^"]+/change/">([^<]*)</a></th>(.*?)</tr>', html, re.S))
    assert 'alt="True"' in rows["Registered kettle"]
    assert 'alt="False"' in rows["Pending mug"] and "answered 503" in rows["Pending mug"]
    assert 'alt="False"' in rows["Bulk teapot"]  # no sync state at all
    with CaptureQueriesContext(connection) as few:
        admin_client.get(PRODUCTS)
    for n in range(10):
        make_product(f"Mug {n}", registered_at=timezone.now())
    with django_assert_max_num_queries(len(few)):
        admin_client.get(PRODUCTS)


def test_the_change_page_shows_the_sync_state(admin_client):
    product = make_product("Kettle", last_sync_error="offers service answered 503", last_sync_error_at=timezone.now())
    page = admin_client.get(f"/admin/catalogue/product/{product.id}/change/").content.decode()
    assert "Offer sync" in page
    assert "offers service answered 503" in page
