"""The worker's metrics move as cycles run, products fail and the offers service is slow; its listener."""

import io
import json
import logging
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import responses
from django.db import OperationalError
from django.utils import timezone
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from aggregator.log_context import LogContextFilter
from aggregator.logging import JsonFormatter
from aggregator.metrics import start_metrics_server
from aggregator.tests.scrape import samples, scrape_listener
from devtools.fake_service import FakeOffersService
from offers_sync.gateway import OffersService
from offers_sync.management.commands.run_sync import Command
from offers_sync.metrics import InstrumentedOffersServiceClient, sync_metrics, upstream_endpoint
from offers_sync.models import SyncRun
from offers_sync.sync import OfferSyncer
from offers_sync.tests.factories import StaticTokens, make_access_token, make_product, store_token
from offers_sync.tokens import DatabaseTokenSource

BASE = "http://offers.test"
OFFERS = re.compile(rf"{BASE}/api/v1/products/([0-9a-f-]+)/offers")
TICK = datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC)
TOKEN = "worker-scrape-token"


def scrape() -> dict[tuple, float]:
    return samples(generate_latest(sync_metrics().registry).decode())


class Delta:
    """How much each series moved between construction and `of()`."""

    def __init__(self):
        self.before = scrape()

    def of(self, name: str, **labels) -> float:
        key = (name, tuple(sorted(labels.items())))
        return scrape().get(key, 0.0) - self.before.get(key, 0.0)


def command_with(service, tmp_path) -> Command:
    command = Command()
    command.heartbeat_file = tmp_path / "heartbeat"
    command.syncer = OfferSyncer(service=service, concurrency=4, worker_name="worker-1", stop=command.stop)
    return command


def instrumented_service(**client_kwargs) -> OffersService:
    client = InstrumentedOffersServiceClient(BASE, wait=lambda s: False, max_attempts=2, **client_kwargs)
    return OffersService(client=client, tokens=DatabaseTokenSource(client, "refresh", wait=lambda s: False))


@pytest.fixture
def captured_log():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(LogContextFilter())
    handler.setFormatter(JsonFormatter())
    logging.getLogger().addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line]
    finally:
        logging.getLogger().removeHandler(handler)


@pytest.mark.django_db(transaction=True)  # the command closes connections between cycles
@responses.activate
def test_a_cycle_moves_the_counters_and_is_recorded_with_its_log_id(tmp_path, captured_log):
    store_token(token=make_access_token(), expires_at=timezone.now() + timedelta(minutes=5))
    synced, failing, forgotten = (make_product(n, registered_at=timezone.now()) for n in "abc")
    answers = {
        str(synced.id): (200, [{"id": str(uuid.uuid4()), "price": 5, "items_in_stock": 1} for _ in range(2)]),
        str(failing.id): (500, {"detail": "boom"}),
        str(forgotten.id): (404, {"detail": "Product does not exist"}),
    }

    def callback(request):
        status, body = answers[OFFERS.match(request.url).group(1)]
        return status, {}, json.dumps(body)

    responses.add_callback(responses.GET, OFFERS, callback=callback)
    delta = Delta()
    summary = command_with(instrumented_service(), tmp_path).run_cycle(TICK)

    assert summary is not None and summary.products_synced == 1
    assert delta.of("aggregator_sync_cycles_total", outcome="completed") == 1
    assert delta.of("aggregator_sync_cycle_duration_seconds_count") == 1
    assert delta.of("aggregator_sync_products_total", outcome="synced") == 1
    assert delta.of("aggregator_sync_products_total", outcome="failed") == 1
    assert delta.of("aggregator_sync_products_total", outcome="unregistered") == 1
    assert delta.of("aggregator_sync_offer_changes_total", kind="added") == 2
    assert delta.of("aggregator_upstream_requests_total", endpoint="offers", status="200") == 1
    assert delta.of("aggregator_upstream_requests_total", endpoint="offers", status="500") == 2  # two attempts
    assert delta.of("aggregator_upstream_requests_total", endpoint="offers", status="404") == 1
    assert delta.of("aggregator_upstream_request_duration_seconds_count", endpoint="offers") == 4
    assert scrape()[("aggregator_sync_last_success_timestamp_seconds", ())] > TICK.timestamp()

    run = SyncRun.objects.get()
    assert (run.outcome, run.worker, run.tick) == ("completed", "worker-1", TICK)
    assert (run.products_synced, run.products_failed, run.products_unregistered, run.offers_added) == (1, 1, 1, 2)
    assert run.failures == {"GET /api/v1/products/" + str(failing.id) + "/offers: server error (500)": 1}
    assert run.started_at <= run.finished_at
    lines = captured_log()
    finished = [line for line in lines if "sync cycle for" in line["message"]]
    not_synced = [line for line in lines if "not synced this cycle" in line["message"]]
    assert finished and not_synced
    assert {line.get("cycle_id") for line in finished + not_synced} == {run.cycle_id}


@pytest.mark.django_db(transaction=True)  # the command closes connections between cycles
@responses.activate
def test_a_cycle_without_an_access_token_is_counted_and_recorded_as_skipped(tmp_path):
    store_token(token="", expires_at=None, refresh_claimed_until=None, auth_blocked_until=None)
    responses.add(responses.POST, f"{BASE}/api/v1/auth", status=503, json={"detail": "down"})
    make_product("waiting", registered_at=timezone.now())
    delta = Delta()
    assert command_with(instrumented_service(), tmp_path).run_cycle(TICK) is None
    assert delta.of("aggregator_sync_cycles_total", outcome="skipped") == 1
    assert delta.of("aggregator_sync_cycles_total", outcome="completed") == 0
    assert delta.of("aggregator_access_token_renewals_total", outcome="failed") == 1
    assert delta.of("aggregator_upstream_requests_total", endpoint="auth", status="503") == 2
    run = SyncRun.objects.get()
    assert run.outcome == "skipped" and "access token" in run.reason


@pytest.mark.django_db(transaction=True)  # the command closes connections between cycles
def test_a_cycle_cut_short_by_the_database_is_counted_and_recorded_as_failed(tmp_path, monkeypatch):
    command = command_with(instrumented_service(), tmp_path)
    command.stop.set()  # no pause before the next try

    def database_down(tick):
        raise OperationalError("server closed the connection")

    monkeypatch.setattr(command.syncer, "run_cycle", database_down)
    delta = Delta()
    assert command.run_cycle(TICK) is None
    assert delta.of("aggregator_sync_cycles_total", outcome="failed") == 1
    assert SyncRun.objects.get().reason == "database unavailable (OperationalError)"


@pytest.mark.e2e
def test_a_slow_offers_service_shows_in_the_latency_histogram():
    with FakeOffersService(refresh_token="secret", latency_ms=300, jitter_ms=0, churn_interval=0) as fake:
        product_id = uuid.uuid4()
        fake.register_product(str(product_id), "slow")
        client = InstrumentedOffersServiceClient(fake.url, max_attempts=1)
        delta = Delta()
        token = client.issue_access_token("secret").token
        client.get_offers(StaticTokens(token), product_id)
        with pytest.raises(Exception, match="another access token is still valid"):
            client.issue_access_token("secret")
    bucket = "aggregator_upstream_request_duration_seconds_bucket"
    assert delta.of(bucket, endpoint="offers", le="0.25") == 0
    assert delta.of(bucket, endpoint="offers", le="+Inf") == 1
    assert delta.of("aggregator_upstream_request_duration_seconds_sum", endpoint="offers") >= 0.3
    assert delta.of("aggregator_upstream_requests_total", endpoint="offers", status="200") == 1
    assert delta.of("aggregator_access_token_renewals_total", outcome="renewed") == 1
    assert delta.of("aggregator_access_token_renewals_total", outcome="another_still_valid") == 1


@pytest.mark.parametrize(
    ("url", "endpoint"),
    [
        (f"{BASE}/api/v1/auth", "auth"),
        (f"{BASE}/api/v1/products/register", "register"),
        (f"{BASE}/api/v1/products/e8af3994-b5db-4158-b57d-25ec37812580/offers?x=1", "offers"),
        (f"{BASE}/somewhere/else", "other"),
    ],
)
def test_upstream_urls_are_named_by_their_endpoint_never_by_their_path(url, endpoint):
    assert upstream_endpoint(url) == endpoint


def test_the_worker_listener_serves_the_sync_series(settings):
    # The token rule is the shared listener's (aggregator/tests/test_metrics.py).
    settings.METRICS_TOKEN = TOKEN
    status, body = scrape_listener(start_metrics_server(sync_metrics().registry, address="127.0.0.1", port=0), TOKEN)
    assert status == 200
    names = {family.name for family in text_string_to_metric_families(body)}
    assert {
        "aggregator_sync_cycles",
        "aggregator_sync_cycle_duration_seconds",
        "aggregator_sync_products",
        "aggregator_sync_offer_changes",
        "aggregator_upstream_requests",
        "aggregator_upstream_request_duration_seconds",
        "aggregator_access_token_renewals",
        "aggregator_sync_last_success_timestamp_seconds",
    } <= names
