"""The offer sync's part of the product admin: its state on the page, the list and its filter."""

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from aggregator.tests.admin_lists import assert_a_thousand_rows_take_the_queries_of_a_few
from catalogue.models import Product
from offers_sync.models import Offer, ProductSyncState, SyncRun
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


def test_the_registration_filter_says_yes_or_no_with_djangos_parameter(admin_client, registration_mix):
    html = admin_client.get(PRODUCTS).content.decode()
    assert "By registered" in html
    choices = re.findall(r'<a href="(\?[^"]*)"[^>]*>(All|Yes|No)</a>', html)
    assert choices == [
        ("?", "All"),
        ("?sync_state__registered_at__isempty=0", "Yes"),
        ("?sync_state__registered_at__isempty=1", "No"),
    ]
    response = admin_client.get(PRODUCTS + "?sync_state__registered_at__isempty=maybe")
    assert response.status_code == 302 and "e=1" in response["Location"]


def test_the_list_shows_each_products_sync_state_in_the_same_queries_however_many(
    admin_client, django_assert_max_num_queries, registration_mix
):
    html = admin_client.get(PRODUCTS).content.decode()
    rows = dict(re.findall(r'<a href="[^"]+/change/">([^<]*)</a></th>(.*?)</tr>', html, re.S))
    assert ">yes</strong>" in rows["Registered kettle"]
    assert ">no</strong>" in rows["Pending mug"] and "answered 503" in rows["Pending mug"]
    assert ">no</strong>" in rows["Bulk teapot"]  # no sync state at all
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


# -- what an admin reads: money, links, columns, query counts ------------------------------------


def bulk_products(count: int, *, offers_each: int = 2) -> list[Product]:
    """`count` registered products with `offers_each` offers (the cheapest sold out), made in bulk."""
    now = timezone.now()
    products = Product.objects.bulk_create(Product(name=f"Lamp {n:04d}") for n in range(count))
    ProductSyncState.objects.bulk_create(
        ProductSyncState(product=p, registered_at=now, offers_synced_at=now) for p in products
    )
    Offer.objects.bulk_create(
        Offer(id=uuid.uuid4(), product=p, price=1000 * (k + 1), items_in_stock=k) for p in products
        for k in range(offers_each)
    )  # fmt: skip
    return products


def row_of(html: str, name: str) -> str:
    return re.search(rf">{re.escape(name)}</a></th>(.*?)</tr>", html, re.S).group(1)


@pytest.mark.parametrize(
    ("currency", "best"), [("JPY", "¥2,000"), ("EUR", "€20.00"), ("KWD", "KWD2.000")], ids=["0", "2", "3"]
)
def test_the_product_list_shows_offer_count_and_best_in_stock_price(admin_client, settings, currency, best):
    settings.CURRENCY = currency
    bulk_products(1, offers_each=3)
    make_product("Kettle without offers", registered_at=timezone.now())
    html = admin_client.get(PRODUCTS).content.decode()
    headers = re.findall(r'<th scope="col" class="[^"]*column-(\w+)', html)
    assert headers == ["name", "registered", "offer_count", "best_price", "offers_synced", "created"]
    assert "column-id" not in html  # no bare UUID column
    lamp = row_of(html, "Lamp 0000")
    assert '<td class="field-offer_count">3</td>' in lamp
    assert f'<td class="field-best_price">{best}</td>' in lamp  # 1000 is sold out; 2000 is the best in stock
    kettle = row_of(html, "Kettle without offers")
    assert '<td class="field-offer_count">0</td>' in kettle and '<td class="field-best_price">—</td>' in kettle


def test_a_long_sync_error_is_cut_in_the_list_and_whole_on_the_page(admin_client):
    error = "offers service answered 503: " + "upstream overloaded, " * 10
    product = make_product("Pending mug", last_sync_error=error, last_sync_error_at=timezone.now())
    html = admin_client.get(PRODUCTS).content.decode()
    cell = re.search(r'<td class="field-offers_synced">(.*?)</td>', html).group(1)
    assert ">error</strong>" in cell and error not in cell.split('title="')[0] and "…" in cell
    page = admin_client.get(f"{PRODUCTS}{product.pk}/change/").content.decode()
    assert error.strip() in page


def test_the_product_page_shows_prices_links_and_times_to_the_second(admin_client):
    at = datetime(2026, 12, 7, 16, 27, 3, tzinfo=UTC)
    product = make_product("Kettle", registered_at=at, offers_synced_at=at + timedelta(seconds=30))
    offer = Offer.objects.create(id=uuid.uuid4(), product=product, price=5496, items_in_stock=2)
    page = admin_client.get(f"{PRODUCTS}{product.pk}/change/").content.decode()
    assert "€54.96" in page and ">5496<" not in page
    assert "2026-12-07 16:27:03" in page and "2026-12-07 16:27:33" in page
    assert "None" not in re.search(r"Offer sync</h2>(.*?)</fieldset>", page, re.S).group(1)
    assert f'href="/admin/offers_sync/offer/{offer.pk}/change/"' in page
    assert f'href="/admin/offers_sync/offer/?q={product.pk}"' in page  # see them in the offers list


def test_the_offer_list_links_each_offer_to_its_product_and_its_events(admin_client):
    [product] = bulk_products(1, offers_each=1)
    offer = Offer.objects.get()
    html = admin_client.get("/admin/offers_sync/offer/").content.decode()
    assert f'<a href="/admin/catalogue/product/{product.pk}/change/">Lamp 0000</a>' in html
    assert f'href="/admin/price_history/priceevent/?q={offer.pk}"' in html
    assert '<td class="field-price_shown">€10.00</td>' in html
    page = admin_client.get(f"/admin/offers_sync/offer/{offer.pk}/change/").content.decode()
    assert f'href="/admin/catalogue/product/{product.pk}/change/"' in page
    assert f'href="/admin/price_history/priceevent/?q={offer.pk}"' in page and "€10.00" in page


@pytest.mark.parametrize(
    ("label", "column"),
    [("catalogue.Product", "best_price"), ("offers_sync.Offer", "product_link"), ("price_history.PriceEvent", "offer")],
)
def test_lists_of_a_thousand_rows_take_the_queries_of_a_few(admin_client, django_assert_max_num_queries, label, column):
    """No query per row for the new columns (offer count, best price, links): 1,000 rows on a page."""
    from django.apps import apps

    from price_history.models import PriceEvent

    def make(count: int) -> None:
        products = bulk_products(count)
        PriceEvent.objects.bulk_create(
            PriceEvent(offer_id=o.id, product_id=o.product_id, kind="appeared", price=o.price, items_in_stock=1,
                       observed_at=timezone.now())
            for o in Offer.objects.filter(product__in=products)
        )  # fmt: skip

    make(3)
    model = apps.get_model(label)
    assert_a_thousand_rows_take_the_queries_of_a_few(admin_client, django_assert_max_num_queries, model, column, make)


def test_the_cycle_list_fits_a_screen_and_says_what_happened(admin_client):
    SyncRun.objects.create(
        cycle_id="c1", worker="w1", tick=timezone.now(), started_at=timezone.now(), finished_at=timezone.now(),
        outcome="completed", products_synced=40, products_failed=2, offers_added=5, duration_seconds=0.123,
    )  # fmt: skip
    html = admin_client.get("/admin/offers_sync/syncrun/").content.decode()
    header = re.search(r'<table id="result_list">.*?</thead>', html, re.S).group(0)
    assert len(re.findall(r'<th scope="col"', header)) == 7  # not twelve
    assert ">Completed</strong>" in html and "40 / 2" in html and "5 / 0 / 0" in html and "0.12 s" in html


def test_the_admin_index_leads_to_the_status_page(admin_client):
    html = admin_client.get("/admin/").content.decode()
    assert 'href="/admin/offers_sync/syncstatus/"><strong>Status page</strong>' in html


def test_the_sync_chart_zooms_to_a_young_systems_cycles_and_labels_its_axes_apart():
    from offers_sync.charts import sync_runs_svg

    now = timezone.now()
    runs = [
        SyncRun(
            cycle_id=f"c{n}", worker="w1", tick=now, started_at=now - timedelta(minutes=5 - n), finished_at=now,
            outcome="completed", products_synced=31, duration_seconds=0.12 if n else 0.07,
        )
        for n in range(5)
    ]  # fmt: skip
    svg = str(sync_runs_svg(runs, since=now - timedelta(days=1), until=now))
    bar = r'<rect x="([\d.]+)" y="[\d.]+" width="[\d.]+" height="[\d.]+" fill="#2e7d32"'
    bars = [float(x) for x in re.findall(bar, svg)][:-1]  # the last is the legend's
    # The plot runs from x=70 to x=740: the five minutes fill it rather than its last 0.4 %.
    assert bars[0] < 200 and bars[-1] > 600
    labels = re.findall(r'text-anchor="end" fill="#444">([^<]+)</text>', svg)
    durations = [label for label in labels if "." in label]
    assert durations == ["0.00", "0.05", "0.10", "0.15"]
    assert ["0", "10", "20", "30", "40"] == [label for label in labels if "." not in label and ":" not in label]
