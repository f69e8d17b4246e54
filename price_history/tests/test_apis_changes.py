"""GET /offers/changes: a consumer mirroring every product's price events by following `next` forever."""

import re
import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from catalogue.tests.factories import ProductFactory
from catalogue.tests.test_services import run_in_thread, wait_until
from offers_sync.client import OfferData
from price_history.models import PriceEvent
from price_history.tests.conftest import T0
from price_history.tests.factories import record_events

# Transactional: on PostgreSQL the feed holds back events of transactions still running, and a
# test's own transaction would be one.
pytestmark = pytest.mark.django_db(transaction=True)

FIELDS = {"id", "product_id", "offer_id", "kind", "price", "items_in_stock", "observed_at", "currency"}


def settled() -> None:
    """Wait until the feed may serve every committed event: on PostgreSQL, until every transaction
    older than the newest event has ended, anywhere on the server (on a shared server another
    database's long write holds the feed back; it delays events, never drops them)."""
    if connection.vendor != "postgresql":
        return

    def caught_up() -> bool:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT coalesce(max(xact_id), 0) < pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
                " FROM price_history_priceevent"
            )
            return cursor.fetchone()[0]

    wait_until(caught_up, "older transactions on the server to end", timeout=120)


def next_link(response) -> str:
    match = re.fullmatch(r'<([^>]+)>; rel="next"', response["Link"])
    assert match, response["Link"]
    return match.group(1)


def follow(client, url, *, pages=50):
    """Every event from `url` on, and the link to poll next."""
    events = []
    for _ in range(pages):
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        url = next_link(response)
        events += body
        if not body:
            break
    return events, url


def test_every_event_of_every_product_oldest_first_paged_with_a_link_on_every_page(
    api_client, product, record, offer_ids
):
    other = ProductFactory(name="Mug")
    record(T0, appeared=[(offer_ids[0], 100, 1), (offer_ids[1], 200, 2)])
    record(T0 + timedelta(hours=1), changed=[(offer_ids[2], 50, 0)], for_product=other)
    record(T0 + timedelta(hours=2), vanished=[(offer_ids[0], 100, 1)])
    settled()
    first = api_client.get("/offers/changes?limit=2")
    assert len(first.json()) == 2
    events, poll = follow(api_client, "/offers/changes?limit=2")
    assert [(e["product_id"], e["kind"], e["price"]) for e in events] == [
        (str(product.id), "appeared", 100),
        (str(product.id), "appeared", 200),
        (str(other.id), "changed", 50),
        (str(product.id), "vanished", 100),
    ]
    assert all(set(e) == FIELDS for e in events)
    assert events[0]["observed_at"] == "2025-03-01T00:00:00Z"
    # Polling the last link finds nothing new, and links to itself; a new event shows up there.
    empty = api_client.get(poll)
    assert empty.json() == []
    assert next_link(empty) == poll
    record(T0 + timedelta(hours=3), appeared=[(offer_ids[3], 7, 1)])
    settled()
    events, _ = follow(api_client, poll)
    assert [e["price"] for e in events] == [7]


def test_an_empty_feed_links_to_itself(api_client):
    response = api_client.get("/offers/changes?limit=5")
    assert response.json() == []
    assert next_link(response).endswith("/offers/changes?limit=5")


def test_since_starts_at_a_time_and_the_link_keeps_it(api_client, record, offer_ids, settings):
    settings.PRICE_HISTORY_DAYS = 0  # keep everything: T0 is long ago
    record(T0, appeared=[(offer_ids[0], 100, 1)])
    record(T0 + timedelta(days=2), changed=[(offer_ids[0], 90, 1)])
    settled()
    response = api_client.get("/offers/changes?since=2025-03-02")
    assert [e["price"] for e in response.json()] == [90]
    assert "since=2025-03-02" in next_link(response)


@pytest.mark.parametrize(
    "query",
    [
        "cursor=nope",
        "limit=0",
        "limit=abc",
        "since=yesterday",
        "since=",
        "cursor=WyIyMDI1LTAxLTAxVDAwOjAwOjAwWiIsIjEiXQ",
    ],
)
def test_bad_parameters_are_400(api_client, query):
    assert api_client.get(f"/offers/changes?{query}").status_code == 400


@pytest.mark.parametrize("days", [30, 365])
def test_since_before_the_history_kept_is_a_400_that_says_the_window(api_client, settings, days):
    settings.PRICE_HISTORY_DAYS = days
    old = (timezone.now() - timedelta(days=days + 1)).date().isoformat()
    response = api_client.get(f"/offers/changes?since={old}")
    assert response.status_code == 400
    [message] = response.json()["since"]
    assert f"the last {days} days" in message
    recent = (timezone.now() - timedelta(days=days - 1)).date().isoformat()
    assert api_client.get(f"/offers/changes?since={recent}").status_code == 200


@pytest.mark.parametrize("ahead", [timedelta(hours=1), timedelta(days=365 * 3000)])
def test_since_in_the_future_is_a_400(api_client, ahead):
    future = (timezone.now() + ahead).isoformat().replace("+00:00", "Z")
    response = api_client.get("/offers/changes", {"since": future})
    assert response.status_code == 400
    assert "future" in response.json()["since"][0]


def test_since_a_moment_ago_is_fine_even_from_a_clock_a_little_ahead(api_client):
    ahead = (timezone.now() + timedelta(seconds=20)).isoformat().replace("+00:00", "Z")
    assert api_client.get("/offers/changes", {"since": ahead}).status_code == 200


def _write_events(product_id, offer_id, price, *, inside=None, go_on=None):
    with transaction.atomic():
        record_events(product_id, T0, appeared=[OfferData(offer_id, price, 1)])
        if inside is not None:
            inside.set()
            go_on.wait(20)


@pytest.mark.postgres
def test_an_event_committed_late_is_not_skipped_by_a_consumer_who_read_past_it(api_client, offer_ids):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer at a time: its ids are in commit order")
    product = ProductFactory(name="Kettle")
    inside, go_on = threading.Event(), threading.Event()
    # A slow worker writes an event (the lower id) and has not committed yet...
    slow, slow_out = run_in_thread(lambda: _write_events(product.id, offer_ids[0], 1, inside=inside, go_on=go_on))
    wait_until(inside.is_set, "the slow transaction to hold its event")
    # ...while a fast one writes and commits an event with a higher id.
    _write_events(product.id, offer_ids[1], 2)
    ids = sorted(PriceEvent.objects.values_list("id", flat=True))
    assert len(ids) == 1  # only the fast one is visible so far
    events, poll = follow(api_client, "/offers/changes")
    assert events == []  # held back: an older transaction could still add an earlier event
    go_on.set()
    slow.join(20)
    assert "error" not in slow_out
    settled()
    events, _ = follow(api_client, poll)
    assert sorted(e["price"] for e in events) == [1, 2]
    assert [e["price"] for e in events] == [1, 2]  # in commit-safe order: the slow transaction began first
