"""GET /metrics on the web, as Prometheus scrapes it: guarded by the token, counting requests, the sync gauges."""

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.parser import text_string_to_metric_families

from aggregator import metrics
from aggregator.tests.scrape import get, samples
from catalogue.models import Product
from catalogue.tests.factories import ProductFactory
from offers_sync.metrics import product_gauges
from offers_sync.models import ProductSyncState, SyncStatus
from offers_sync.tests.factories import make_product

TOKEN = "scrape-token-for-tests"


def value(scraped: dict, name: str, **labels) -> float:
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def scrape(client, settings, monkeypatch):
    settings.METRICS_TOKEN = TOKEN
    monkeypatch.setattr(metrics, "GAUGES_CACHE_SECONDS", 0)

    def do() -> dict:
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain")
        return samples(response.content.decode())

    return do


def test_without_a_configured_token_metrics_do_not_exist(client, settings):
    settings.METRICS_TOKEN = ""
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything")
    assert response.status_code == 404
    assert b"aggregator_" not in response.content


@pytest.mark.parametrize(
    "header", [None, "", "Bearer", "Bearer wrong", f"Token {TOKEN}", f"Bearer {TOKEN}x", f"Basic {TOKEN}", "Bearer é"]
)
def test_metrics_without_the_right_bearer_token_are_refused(client, settings, header):
    settings.METRICS_TOKEN = TOKEN
    extra = {} if header is None else {"HTTP_AUTHORIZATION": header}
    response = client.get("/metrics", **extra)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"aggregator_" not in response.content
    assert TOKEN.encode() not in response.content


def test_writing_to_metrics_is_refused(client, settings):
    settings.METRICS_TOKEN = TOKEN
    response = client.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 405


@pytest.mark.django_db
def test_requests_are_counted_by_route_and_status(client, scrape):
    product = ProductFactory(name="Mug")
    before = scrape()
    for _ in range(3):
        assert client.get(f"/products/{product.id}/offers").status_code == 200
    assert client.get("/products/not-a-uuid/offers").status_code in (400, 404)
    assert client.get("/no/such/page").status_code == 404
    after = scrape()
    route = "products/<str:product_id>/offers"
    ok = dict(route=route, method="GET", status="200")
    counted = "aggregator_http_requests_total"
    assert value(after, counted, **ok) - value(before, counted, **ok) == 3
    # Raw paths never become labels: the unknown page is counted as unmatched, not by its path.
    unmatched = dict(route="unmatched", method="GET", status="404")
    assert value(after, "aggregator_http_requests_total", **unmatched) >= 1
    assert not any("no/such/page" in str(key) for key in after)
    timed = dict(route=route, method="GET")
    count = "aggregator_http_request_duration_seconds_count"
    assert value(after, count, **timed) - value(before, count, **timed) == 4


@pytest.mark.django_db
def test_invented_methods_do_not_make_new_series(client, scrape):
    client.generic("BREW", "/products")
    scraped = scrape()
    assert not any(("method", "BREW") in labels for _, labels in scraped)
    assert any(
        name == "aggregator_http_requests_total" and ("method", "other") in labels and ("route", "products") in labels
        for name, labels in scraped
    )


@pytest.mark.django_db
def test_sync_gauges_count_products_from_the_database(scrape, settings):
    settings.SYNC_SCHEDULE = "*/30 * * * * *"  # stale: last mirrored more than 60 s ago
    now = timezone.now()
    ProductFactory(name="pending")
    old = make_product("pending for days", registered_at=None)
    Product.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=3))
    ProductSyncState.objects.filter(product=old).delete()  # as while no worker runs
    make_product("fresh", registered_at=now - timedelta(hours=1), offers_synced_at=now)
    make_product("stale", registered_at=now - timedelta(hours=1), offers_synced_at=now - timedelta(minutes=5))
    make_product("never synced", registered_at=now - timedelta(hours=1))
    make_product("just registered", registered_at=now)
    finished = now - timedelta(seconds=42)
    SyncStatus.objects.update_or_create(pk=SyncStatus.SINGLETON_ID, defaults={"last_cycle_finished_at": finished})
    scraped = scrape()
    assert value(scraped, "aggregator_products", state="registered") == 4
    assert value(scraped, "aggregator_products", state="pending") == 2
    assert value(scraped, "aggregator_products_stale") == 2
    assert value(scraped, "aggregator_sync_last_success_timestamp_seconds") == pytest.approx(finished.timestamp())


@pytest.mark.django_db
def test_sync_gauges_are_read_once_per_cache_period(monkeypatch, django_assert_num_queries):
    monkeypatch.setattr(metrics, "GAUGES_CACHE_SECONDS", 3600)
    collector = metrics.CachedGauges(product_gauges, name="sync gauges")

    def pending() -> float:
        families = {family.name: family for family in collector.collect()}
        return {tuple(s.labels.values()): s.value for s in families["aggregator_products"].samples}[("pending",)]

    with django_assert_num_queries(3):
        first = pending()
    ProductFactory(name="new")
    with django_assert_num_queries(0):
        assert pending() == first


@pytest.mark.django_db
def test_metrics_still_answer_while_the_database_is_down(scrape, client, monkeypatch):
    from django.db import OperationalError

    def down(**kwargs):
        raise OperationalError("connection refused")

    client.get("/no/such/page")  # a request counted in this process, whichever tests ran before
    monkeypatch.setattr("offers_sync.metrics.sync_gauges", down)
    scraped = scrape()
    assert value(scraped, "aggregator_products", state="registered") == 0
    assert not any(name == "aggregator_products" for name, _ in scraped)
    assert any(name == "aggregator_http_requests_total" for name, _ in scraped)


def test_the_workers_listener_serves_its_registry_to_the_metrics_token_only(settings):
    """The one listener both workers (run_sync, run_webhooks) serve their series from."""
    registry = CollectorRegistry()
    Counter("aggregator_listener_test", "A series of this registry only.", registry=registry).inc()
    server = metrics.start_metrics_server(registry, address="127.0.0.1", port=0)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        settings.METRICS_TOKEN = ""
        assert get(f"{base}/metrics", Authorization="Bearer anything")[0] == 404
        settings.METRICS_TOKEN = TOKEN
        assert get(f"{base}/metrics")[0] == 401
        assert get(f"{base}/metrics", Authorization="Bearer wrong")[0] == 401
        assert get(f"{base}/metrics", Authorization=f"Basic {TOKEN}")[0] == 401
        assert get(f"{base}/other", Authorization=f"Bearer {TOKEN}")[0] == 404
        status, body = get(f"{base}/metrics", Authorization=f"Bearer {TOKEN}")
    finally:
        server.shutdown()
        server.server_close()
    assert status == 200 and TOKEN not in body
    assert {family.name for family in text_string_to_metric_families(body)} == {"aggregator_listener_test"}
