"""End to end over real HTTP: the API, the worker and the project's fake offers service together.

The fake runs in this process on a free port; workers run either in-process (`call_command`) or
as real `manage.py run_sync` processes on the same test database.
"""

import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from devtools.fake_service import FakeOffersService
from offers_sync.models import Offer, ProductSyncState, SyncStatus
from tests.system import live

ROOT = Path(__file__).resolve().parents[2]
REFRESH_TOKEN = "e2e-refresh-token"
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def fake(settings):
    with FakeOffersService(refresh_token=REFRESH_TOKEN, latency_ms=0, jitter_ms=0, churn_interval=0, seed=7) as service:
        settings.OFFERS_SERVICE_URL = service.url
        settings.OFFERS_REFRESH_TOKEN = REFRESH_TOKEN
        yield service


def create_products(auth_client, count: int) -> list[str]:
    ids = []
    for i in range(count):
        response = auth_client.post("/products", {"name": f"product {i}"}, format="json")
        assert response.status_code == 201
        ids.append(response.json()["id"])
    return ids


def sync_once(**kwargs) -> str:
    out = StringIO()
    call_command("run_sync", "--once", stdout=out, **kwargs)
    return out.getvalue()


def mirror_of(product_id: str) -> list[tuple]:
    return sorted(
        (str(offer_id), price, stock)
        for offer_id, price, stock in Offer.objects.filter(product_id=product_id).values_list(
            "id", "price", "items_in_stock"
        )
    )


def upstream_of(fake, product_id: str) -> list[tuple]:
    return sorted((o["id"], o["price"], o["items_in_stock"]) for o in fake.product_offers(product_id))


def test_worker_mirrors_upstream_exactly_after_churn(fake, auth_client, api_client):
    product_ids = create_products(auth_client, 12)
    assert all(api_client.get(f"/products/{pid}").json()["registered"] for pid in product_ids)
    sync_once()
    for _ in range(3):
        fake.churn_step()
        sync_once()
    for product_id in product_ids:
        assert mirror_of(product_id) == upstream_of(fake, product_id)
        served = api_client.get(f"/products/{product_id}/offers").json()
        assert [o["price"] for o in served] == sorted(o["price"] for o in served)
        assert len(served) == len(upstream_of(fake, product_id))
    assert api_client.get("/health").json()["last_sync"] is not None


def test_product_created_while_upstream_is_down_is_registered_and_synced_later(fake, auth_client, api_client):
    fake.set_faults(error_rate=1.0)
    (product_id,) = create_products(auth_client, 1)
    assert api_client.get(f"/products/{product_id}").json()["registered"] is False
    fake.set_faults(error_rate=0.0)
    sync_once()
    product = api_client.get(f"/products/{product_id}").json()
    assert product["registered"] is True
    assert product["offers_synced_at"] is not None
    assert mirror_of(product_id) == upstream_of(fake, product_id)


@pytest.mark.parametrize(
    "faults",
    [
        {"error_rate": 1.0},
        {"malformed_rate": 1.0},
        {"rate_limit_rate": 1.0},
        {"timeout_rate": 1.0, "timeout_seconds": 6},
    ],
)
def test_faults_never_empty_the_cached_offers(fake, auth_client, settings, faults):
    product_ids = create_products(auth_client, 3)
    sync_once()
    before = {pid: mirror_of(pid) for pid in product_ids}
    assert all(before.values())
    fake.churn_step()
    fake.set_faults(**faults)
    sync_once()
    assert {pid: mirror_of(pid) for pid in product_ids} == before
    errors = set(ProductSyncState.objects.values_list("last_sync_error", flat=True))
    assert all(errors)
    assert not any(REFRESH_TOKEN in error for error in errors)


def test_expired_access_token_is_renewed_and_the_sync_goes_on(fake, auth_client):
    product_ids = create_products(auth_client, 2)
    sync_once()
    fake.expire_token()
    fake.churn_step()
    sync_once()
    for product_id in product_ids:
        assert mirror_of(product_id) == upstream_of(fake, product_id)
    assert fake.stats()["auth_refused_another_valid"] == 0


def test_upstream_forgetting_a_product_gets_it_registered_again(fake, auth_client):
    (product_id,) = create_products(auth_client, 1)
    sync_once()
    fake.forget_product(product_id)
    sync_once()  # 404: marked for registration again, cache kept
    assert ProductSyncState.objects.get(pk=product_id).registered_at is None
    assert mirror_of(product_id)
    sync_once()  # registered again and synced
    assert ProductSyncState.objects.get(pk=product_id).registered_at is not None
    assert mirror_of(product_id) == upstream_of(fake, product_id)


# -- real worker processes -------------------------------------------------------------------


def worker_env(fake, **extra) -> dict:
    return live.worker_env(OFFERS_SERVICE_URL=fake.url, OFFERS_REFRESH_TOKEN=REFRESH_TOKEN, **extra)


@pytest.mark.postgres
def test_two_workers_share_a_tick_without_fetching_any_product_twice(fake, auth_client):
    if connection.vendor != "postgresql":
        pytest.skip("several workers at once is a PostgreSQL deployment")
    product_ids = create_products(auth_client, 240)
    fake.set_faults(latency_ms=60, jitter_ms=0)
    fake.reset_stats()
    tick = datetime.now(UTC).replace(microsecond=0).isoformat()
    command = [sys.executable, "manage.py", "run_sync", "--once", "--tick", tick]
    env = worker_env(fake, SYNC_CONCURRENCY="8")
    workers = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [worker.communicate(timeout=120)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0]
    fetches = fake.stats()["offers_requests"]
    assert sorted(fetches) == sorted(product_ids)
    assert set(fetches.values()) == {1}
    synced_by_each = [int(out.split("synced=")[1].split()[0]) for out in outputs]
    assert sum(synced_by_each) == 240
    assert all(count > 0 for count in synced_by_each), synced_by_each


def test_sigterm_stops_the_worker_promptly_and_cleanly(fake, auth_client, tmp_path):
    product_ids = create_products(auth_client, 60)
    fake.set_faults(latency_ms=300, jitter_ms=0)
    heartbeat = tmp_path / "heartbeat"
    env = worker_env(fake, SYNC_SCHEDULE="* * * * * *", SYNC_HEARTBEAT_FILE=str(heartbeat), SYNC_CONCURRENCY="4")
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "run_sync"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        # Wait until it is in the middle of a cycle: some products synced, not all.
        deadline = time.monotonic() + 60
        while not ProductSyncState.objects.filter(offers_synced_at__isnull=False).exists():
            assert time.monotonic() < deadline, "the worker never synced anything"
            assert worker.poll() is None, worker.stdout.read()
            time.sleep(0.05)
        worker.send_signal(signal.SIGTERM)
        stopped_at = time.monotonic()
        exit_code = worker.wait(timeout=15)
        assert exit_code == 0
        assert time.monotonic() - stopped_at < 10
    finally:
        if worker.poll() is None:
            worker.kill()
    # Every product's cache is a whole answer or untouched, never half of one.
    for product_id in product_ids:
        offers = mirror_of(product_id)
        assert offers == [] or offers == upstream_of(fake, product_id)
    assert heartbeat.exists()
    assert SyncStatus.objects.filter(last_cycle_started_at__isnull=False).exists()
