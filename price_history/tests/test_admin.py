"""The product's admin page: a price chart, the current offers and the latest events."""

import re
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from offers_sync.tests.factories import OfferFactory

pytestmark = pytest.mark.django_db


def _page(admin_client, product) -> str:
    response = admin_client.get(f"/admin/catalogue/product/{product.id}/change/")
    assert response.status_code == 200
    return response.content.decode()


def test_chart_of_best_and_average_price(admin_client, product, record, offer_ids):
    a, b = offer_ids[:2]
    now = timezone.now()
    record(now - timedelta(hours=3), appeared=[(a, 1000, 1), (b, 3000, 2)])
    record(now - timedelta(hours=2), changed=[(a, 1500, 1)])
    record(now - timedelta(hours=1), changed=[(a, 1500, 0)])
    html = _page(admin_client, product)

    svg = re.search(r'<svg [^>]*class="price-trend-chart".*?</svg>', html, re.S).group(0)
    assert "best in-stock price" in svg and "average in-stock price" in svg
    assert len(re.findall(r'<path d="M', svg)) == 2  # one line per series
    assert "cdn" not in html.lower() and '<script src="http' not in html
    assert "Now: best €30.00, 1 offer in stock" in html


def test_latest_twenty_events_newest_first(admin_client, product, record):
    now = timezone.now()
    offer = uuid.uuid4()
    record(now - timedelta(minutes=30), appeared=[(offer, 1, 1)])
    for minute in range(1, 26):
        record(now - timedelta(minutes=30 - minute), changed=[(offer, 100 + minute, 1)])
    html = _page(admin_client, product)
    prices = re.findall(r"<td>(€[\d.]+)</td>\s*<td>1</td>", html)
    assert prices == [f"€1.{cents:02d}" for cents in range(25, 5, -1)]
    assert "Latest 20 events" in html


def test_current_offers_are_shown_beside_the_history(admin_client, product, record):
    OfferFactory(product=product, price=4242, items_in_stock=7)
    html = _page(admin_client, product)
    assert "€42.42" in html
    assert "No price history yet" in html


def test_sold_out_period_says_so(admin_client, product, record, offer_ids):
    record(timezone.now() - timedelta(hours=1), appeared=[(offer_ids[0], 10, 0)])
    html = _page(admin_client, product)
    assert "No offer was in stock in this period." in html


def test_add_page_still_works(admin_client):
    response = admin_client.get("/admin/catalogue/product/add/")
    assert response.status_code == 200
    assert 'id="price-history"' not in response.content.decode()


def test_event_list_is_read_only(admin_client, product, record, offer_ids):
    record(timezone.now(), appeared=[(offer_ids[0], 10, 1)])
    assert admin_client.get("/admin/price_history/priceevent/").status_code == 200
    assert admin_client.get("/admin/price_history/priceevent/add/").status_code == 403


def test_a_busy_month_is_sampled_for_the_chart(admin_client, product, record):
    offer = uuid.uuid4()
    now = timezone.now()
    record(now - timedelta(days=40), appeared=[(offer, 1000, 1)])
    for n in range(450):
        record(now - timedelta(days=29) + timedelta(hours=n), changed=[(offer, 1000 + n % 7, 1)])
    html = _page(admin_client, product)
    path = re.search(r'<path d="(M[^"]*)"[^>]*stroke="#2e7d32"', html).group(1)
    assert 300 < path.count("H") <= 402  # about 400 samples, not 450 changes


def test_the_price_axis_reads_round_amounts_in_the_currency(admin_client, product, record, offer_ids, settings):
    settings.CURRENCY = "EUR"
    now = timezone.now()
    record(now - timedelta(hours=2), appeared=[(offer_ids[0], 2332, 1), (offer_ids[1], 61394, 1)])
    html = _page(admin_client, product)
    svg = re.search(r'<svg [^>]*class="price-trend-chart".*?</svg>', html, re.S).group(0)
    labels = re.findall(r'text-anchor="end" fill="#444">(€[^<]+)</text>', svg)
    # best €23.32 and average €318.63: once "2,332 / 31,863 / 61,394"
    assert labels == ["€0.00", "€100.00", "€200.00", "€300.00", "€400.00"]
    assert "Now: best €23.32, 2 offers in stock" in html
