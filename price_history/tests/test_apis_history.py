"""GET /products/{id}/offers/history: a product's price events, oldest first, paged."""

import uuid
from datetime import timedelta

import pytest

from catalogue.tests.factories import ProductFactory
from price_history.tests.conftest import T0

pytestmark = pytest.mark.django_db


def _url(product, **params):
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return f"/products/{product.id}/offers/history" + (f"?{query}" if query else "")


@pytest.fixture
def history(product, record, offer_ids):
    """Five events over five days: a appears, b appears, a sells out, b drops, a vanishes."""
    a, b = offer_ids[:2]
    record(T0, appeared=[(a, 100, 3)])
    record(T0 + timedelta(days=1), appeared=[(b, 200, 1)])
    record(T0 + timedelta(days=2), changed=[(a, 100, 0)])
    record(T0 + timedelta(days=3), changed=[(b, 150, 1)])
    record(T0 + timedelta(days=4), vanished=[(a, 100, 0)])
    return a, b


def test_events_are_listed_oldest_first(api_client, product, history):
    a, b = history
    response = api_client.get(_url(product))
    assert response.status_code == 200
    body = response.json()
    assert [(e["offer_id"], e["kind"], e["price"], e["items_in_stock"]) for e in body] == [
        (str(a), "appeared", 100, 3),
        (str(b), "appeared", 200, 1),
        (str(a), "changed", 100, 0),
        (str(b), "changed", 150, 1),
        (str(a), "vanished", 100, 0),
    ]
    assert body[0]["observed_at"] == "2025-03-01T00:00:00Z"
    assert set(body[0]) == {"id", "offer_id", "kind", "price", "items_in_stock", "observed_at", "currency"}
    assert body[0]["currency"] == "EUR"
    assert "Link" not in response.headers


def test_other_products_events_are_not_listed(api_client, product, record, history):

    other = ProductFactory(name="Other")
    record(T0, appeared=[(uuid.uuid4(), 1, 1)], for_product=other)
    assert len(api_client.get(_url(product)).json()) == 5
    assert len(api_client.get(_url(other)).json()) == 1


def test_since_and_until_include_both_ends(api_client, product, history):
    body = api_client.get(_url(product, since="2025-03-02T00:00:00Z", until="2025-03-04T00:00:00Z")).json()
    assert [e["observed_at"] for e in body] == ["2025-03-02T00:00:00Z", "2025-03-03T00:00:00Z", "2025-03-04T00:00:00Z"]


def test_dates_mean_whole_days(api_client, product, history):
    body = api_client.get(_url(product, since="2025-03-02", until="2025-03-03")).json()
    assert [e["observed_at"] for e in body] == ["2025-03-02T00:00:00Z", "2025-03-03T00:00:00Z"]


def test_offsets_are_honoured(api_client, product, history):
    # 02:00+02:00 is midnight UTC; an unencoded "+" arrives as a space and means the same.
    for since in ("2025-03-04T02:00:00%2B02:00", "2025-03-04T02:00:00+02:00"):
        body = api_client.get(_url(product, since=since)).json()
        assert [e["kind"] for e in body] == ["changed", "vanished"]
        assert body[0]["observed_at"] == "2025-03-04T00:00:00Z"


def test_offer_filter(api_client, product, history):
    a, _ = history
    body = api_client.get(_url(product, offer=a)).json()
    assert [e["kind"] for e in body] == ["appeared", "changed", "vanished"]
    assert {e["offer_id"] for e in body} == {str(a)}


def test_pages_follow_the_link_header(api_client, product, history):
    seen = []
    url = _url(product, limit=2)
    pages = 0
    while url:
        response = api_client.get(url)
        assert response.status_code == 200
        seen += [e["id"] for e in response.json()]
        pages += 1
        link = response.headers.get("Link")
        url = link[link.index("<") + 1 : link.index(">")] if link else None
    assert pages == 3
    assert len(seen) == len(set(seen)) == 5


def test_next_page_keeps_the_filters(api_client, product, history):
    a, _ = history
    first = api_client.get(_url(product, offer=a, limit=1))
    link = first.headers["Link"]
    assert f"offer={a}" in link
    second = api_client.get(link[link.index("<") + 1 : link.index(">")])
    assert [e["kind"] for e in second.json()] == ["changed"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "yesterday"}, "since"),
        ({"until": "2025-13-01"}, "until"),
        ({"since": "2025-03-01T25:00:00Z"}, "since"),
        ({"offer": "not-an-id"}, "offer"),
        ({"since": "2025-03-05", "until": "2025-03-01"}, "since"),
        ({"limit": "0"}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"cursor": "garbage"}, "cursor"),
    ],
)
def test_bad_parameters_are_400_field_errors(api_client, product, history, params, field):
    response = api_client.get(_url(product, **params))
    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_a_products_cursor_is_not_an_events_cursor(api_client, product, history):

    ProductFactory(name="Another")
    link = api_client.get("/products?limit=1").headers["Link"]
    cursor = link.split("cursor=")[1].split(">")[0].split("&")[0]
    response = api_client.get(_url(product, cursor=cursor))
    assert response.status_code == 400
    assert response.json() == {"cursor": ["Invalid cursor."]}


@pytest.mark.parametrize("product_id", ["623bad43-4d7b-46d1-8161-1b8523ae7507", "not-a-uuid"])
def test_unknown_product_is_404(api_client, product_id):
    response = api_client.get(f"/products/{product_id}/offers/history")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_two_queries_whatever_the_page_size(api_client, product, record, django_assert_max_num_queries):
    record(T0, appeared=[(uuid.uuid4(), n, 1) for n in range(300)])
    with django_assert_max_num_queries(2):
        assert len(api_client.get(_url(product, limit=250)).json()) == 250
