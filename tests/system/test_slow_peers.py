"""Slow peers over real sockets: an answer that drips its headers or its body a byte at a time
costs only its own product, `/auth` or delivery, within a stated bound, and never stalls a worker.

The offers service is the project's fake (its `drip-headers` and `drip-body` kinds); the webhook
receivers are a raw socket server that answers each delivery a byte every 0.1 s, for ever.
Workers run as `manage.py run_sync` / `run_webhooks` processes, as an operator runs them.
"""

import math
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from alerts.models import Delivery, DeliveryStatus, EventType
from alerts.services import _events_create
from alerts.tests.receiver import Receiver
from devtools.fake_hostile import SLOW_KINDS
from devtools.fake_service import FakeOffersService
from offers_sync.gateway import WEB_TOKEN_WAIT_SECONDS
from offers_sync.models import ProductSyncState
from offers_sync.registration import REGISTER_NOW_SECONDS
from tests.system.live import DrippingReceivers
from tests.system.test_end_to_end import (
    REFRESH_TOKEN,
    ROOT,
    create_products,
    mirror_of,
    sync_once,
    upstream_of,
    worker_env,
)
from tests.system.test_webhook_workers import start_worker

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

OFFERS_TIMEOUT = 1  # seconds, for the workers started here
# Beyond a bound, for the bookkeeping around it and a loaded two-core machine.
MARGIN_SECONDS = 3
# Beyond a worker's bound on stopping, for the process's own exit on such a machine.
EXIT_SECONDS = 5


@pytest.fixture
def fake(settings):
    options = {"latency_ms": 0, "jitter_ms": 0, "churn_interval": 0, "seed": 5}
    with FakeOffersService(refresh_token=REFRESH_TOKEN, **options) as service:
        settings.OFFERS_SERVICE_URL = service.url
        settings.OFFERS_REFRESH_TOKEN = REFRESH_TOKEN
        yield service


def test_a_cycle_among_dripping_answers_ends_in_its_bound_and_mirrors_the_healthy_products(fake, auth_client):
    product_ids = create_products(auth_client, 8)
    sync_once()
    before = {pid: mirror_of(pid) for pid in product_ids}
    slow = dict(zip(product_ids[:2], SLOW_KINDS, strict=True))
    for product_id, kind in slow.items():
        fake.set_hostile(product_id, kind)
    fake.churn_step(20)

    result = subprocess.run(
        [sys.executable, "manage.py", "run_sync", "--once"],
        cwd=ROOT,
        env=worker_env(fake, SYNC_CONCURRENCY="4", OFFERS_TIMEOUT=str(OFFERS_TIMEOUT)),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    # The bound: the slow products' fetches run side by side, each ends within 2 × OFFERS_TIMEOUT;
    # the healthy ones and the bookkeeping take well under a second more.
    took = float(re.search(r"duration=([0-9.]+)s", result.stdout).group(1))
    assert took < 2 * OFFERS_TIMEOUT + MARGIN_SECONDS, result.stdout[-2000:]
    assert "synced=6 failed=2" in result.stdout
    for product_id in product_ids:
        if product_id in slow:
            assert mirror_of(product_id) == before[product_id]
            assert "timed out" in ProductSyncState.objects.get(pk=product_id).last_sync_error
        else:
            assert mirror_of(product_id) == upstream_of(fake, product_id)


@pytest.mark.parametrize("kind", SLOW_KINDS)
def test_post_products_answers_within_its_bound_while_auth_drips(fake, auth_client, kind):
    fake.set_auth_hostile(kind)
    # Waiting for the shared token comes on top of the registration call's own deadline.
    bound = REGISTER_NOW_SECONDS + WEB_TOKEN_WAIT_SECONDS
    answer = {}

    def create():
        answer["response"] = auth_client.post("/products", {"name": "Kettle"}, format="json")

    started = time.monotonic()
    thread = threading.Thread(target=create, daemon=True)
    thread.start()
    thread.join(bound + MARGIN_SECONDS + 2)
    took = time.monotonic() - started

    assert not thread.is_alive(), f"POST /products still waiting after {took:.1f} s"
    assert took < bound + MARGIN_SECONDS
    response = answer["response"]
    assert response.status_code == 201
    assert response.json()["registered"] is False  # the worker registers it later
    state = ProductSyncState.objects.get(pk=response.json()["id"])
    assert "timed out" in state.last_sync_error


def test_sigterm_stops_run_sync_within_its_bound_while_a_fetch_drips(fake, auth_client, tmp_path):
    product_ids = create_products(auth_client, 4)
    sync_once()
    fake.set_hostile(product_ids[0], "drip-body")
    fake.reset_stats()
    env = worker_env(fake, SYNC_SCHEDULE="* * * * * *", SYNC_CONCURRENCY="2", OFFERS_TIMEOUT="5")
    env["SYNC_HEARTBEAT_FILE"] = str(tmp_path / "heartbeat")
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "run_sync"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 60
        while not fake.stats()["offers_requests"].get(product_ids[0]):
            assert time.monotonic() < deadline, "the worker never fetched the slow product"
            assert worker.poll() is None, worker.stdout.read()
            time.sleep(0.05)
        worker.send_signal(signal.SIGTERM)
        stopped_at = time.monotonic()
        assert worker.wait(timeout=60) == 0
        # The bound: the fetch in hand ends within its deadline, 2 × OFFERS_TIMEOUT.
        assert time.monotonic() - stopped_at < 2 * 5 + EXIT_SECONDS
    finally:
        if worker.poll() is None:
            worker.kill()
    assert mirror_of(product_ids[0]) != []  # its cache kept


def test_dripping_receivers_cannot_hold_a_healthy_delivery_or_the_shutdown(auth_client):
    concurrency, timeout, slow_endpoints = 2, 1, 6
    lease = 2 * timeout + 5
    with DrippingReceivers() as slow, Receiver() as healthy:
        slow_ids = []
        for n in range(slow_endpoints):
            response = auth_client.post("/webhooks", {"url": slow.url(n)}, format="json")
            assert response.status_code == 201, response.content
            slow_ids.append(response.json()["id"])
        response = auth_client.post("/webhooks", {"url": healthy.url}, format="json")
        healthy.secrets.append(response.json()["secret"])
        _events_create([(EventType.WEBHOOK_PING, {"n": n}, endpoint_id) for n, endpoint_id in enumerate(slow_ids)])
        _events_create([(EventType.WEBHOOK_PING, {"n": "healthy"}, response.json()["id"])])  # due last

        worker = start_worker(
            WEBHOOK_CONCURRENCY=str(concurrency), WEBHOOK_TIMEOUT=str(timeout), WEBHOOK_RETRY_DELAYS="1,1,1,1,1,1,1,1"
        )
        try:
            healthy.wait_for(1, timeout=120)
            # The bound: the deliveries due before it take ceil(slow / concurrency) rounds of at most
            # WEBHOOK_TIMEOUT each, counted from the worker's first attempt.
            took = time.monotonic() - slow.first_request_at
            assert took < math.ceil(slow_endpoints / concurrency) * timeout + MARGIN_SECONDS
            started = slow.first_request_at
            # Past a whole lease, so that an attempt outliving its lease would have met its successor.
            while time.monotonic() - started < lease + 2:
                assert worker.poll() is None, worker.stdout.read()
                time.sleep(0.2)
            assert slow.requests > slow_endpoints  # the slow ones were tried again meanwhile
            worker.send_signal(signal.SIGTERM)
            stopped_at = time.monotonic()
            assert worker.wait(timeout=60) == 0
            assert time.monotonic() - stopped_at < timeout + EXIT_SECONDS
        finally:
            if worker.poll() is None:
                worker.kill()
        assert slow.overlaps == []
        assert Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 1
