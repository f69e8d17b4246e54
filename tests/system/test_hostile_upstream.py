"""A hostile offers service, over real HTTP: each answer costs at most its own product.

The project's fake offers service gives the hostile answers (devtools.fake_hostile); the
worker runs as `manage.py run_sync`, as an operator runs it.
"""

import subprocess
import sys
import time

import pytest

from devtools.fake_hostile import HOSTILE_KINDS
from devtools.fake_service import FakeOffersService
from offers_sync.models import ProductSyncState, SyncStatus
from tests.system.test_end_to_end import (
    REFRESH_TOKEN,
    ROOT,
    create_products,
    mirror_of,
    sync_once,
    upstream_of,
    worker_env,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def fake(settings):
    options = {"latency_ms": 0, "jitter_ms": 0, "churn_interval": 0, "seed": 11}
    with FakeOffersService(refresh_token=REFRESH_TOKEN, **options) as service:
        settings.OFFERS_SERVICE_URL = service.url
        settings.OFFERS_REFRESH_TOKEN = REFRESH_TOKEN
        yield service


def run_once(fake) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "run_sync", "--once"],
        cwd=ROOT,
        env=worker_env(fake, SYNC_CONCURRENCY="4"),
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_no_credential_leaked(fake):
    assert fake.trap_stats()["credential_headers"] == []
    errors = " ".join(ProductSyncState.objects.values_list("last_sync_error", flat=True))
    assert REFRESH_TOKEN not in errors
    assert "Traceback" not in errors


def test_a_cycle_with_hostile_answers_among_healthy_ones_completes(fake, auth_client):
    product_ids = create_products(auth_client, 2 * len(HOSTILE_KINDS))
    sync_once()
    before = {pid: mirror_of(pid) for pid in product_ids}
    assert all(before.values())
    hostile = dict(zip(product_ids[1::2], HOSTILE_KINDS, strict=True))  # the first product stays healthy
    healthy = [pid for pid in product_ids if pid not in hostile]
    for product_id, kind in hostile.items():
        fake.set_hostile(product_id, kind)
    fake.churn_step(20)  # so a healthy product's mirror has something to follow

    result = run_once(fake)

    assert result.returncode == 0, result.stderr[-3000:]
    assert f"synced={len(healthy)} failed={len(hostile)}" in result.stdout
    for product_id in healthy:
        assert mirror_of(product_id) == upstream_of(fake, product_id)
    for product_id, kind in hostile.items():
        assert mirror_of(product_id) == before[product_id], kind
        product = ProductSyncState.objects.get(pk=product_id)
        assert product.last_sync_error, kind
        assert product.registered_at is not None, kind  # a redirect target's 404 is not "unregistered"
    assert_no_credential_leaked(fake)
    assert SyncStatus.objects.get().last_cycle_finished_at is not None


def test_the_long_running_worker_keeps_syncing_through_hostile_answers(fake, auth_client, tmp_path):
    product_ids = create_products(auth_client, 20)
    sync_once()
    # The first product stays healthy: its offer is the one "foreign-offer-id" answers borrow.
    hostile = dict(zip(product_ids[1:], HOSTILE_KINDS, strict=False))
    for product_id, kind in hostile.items():
        fake.set_hostile(product_id, kind)
    fake.set_faults(hostile_rate=0.3)  # and now and then any product
    env = worker_env(
        fake, SYNC_SCHEDULE="* * * * * *", SYNC_HEARTBEAT_FILE=str(tmp_path / "heartbeat"), SYNC_CONCURRENCY="4"
    )
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "run_sync"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        finished = set()
        deadline = time.monotonic() + 90
        while len(finished) < 4:  # several cycles, each with hostile answers
            assert time.monotonic() < deadline, "the worker stopped finishing cycles"
            assert worker.poll() is None, worker.stdout.read().decode(errors="replace")[-3000:]
            status = SyncStatus.objects.filter(last_cycle_finished_at__isnull=False).first()
            if status:
                finished.add(status.last_cycle_finished_at)
            time.sleep(0.1)
        # Calm for every product but the hostile ones: the others converge, the worker lives on.
        fake.set_faults(hostile_rate=0.0)
        fake.churn_step()
        calm_cycle = SyncStatus.objects.get().last_cycle_finished_at
        healthy = [pid for pid in product_ids if pid not in hostile]
        while not all(mirror_of(pid) == upstream_of(fake, pid) for pid in healthy) or len(finished) < 6:
            assert time.monotonic() < deadline, "healthy products did not converge"
            assert worker.poll() is None, worker.stdout.read().decode(errors="replace")[-3000:]
            status = SyncStatus.objects.get()
            if status.last_cycle_finished_at > calm_cycle:
                finished.add(status.last_cycle_finished_at)
            time.sleep(0.1)
        assert worker.poll() is None
        for product_id in hostile:
            assert ProductSyncState.objects.get(pk=product_id).last_sync_error
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0].decode(errors="replace")
    assert worker.returncode == 0, output[-3000:]
    assert_no_credential_leaked(fake)


def test_redirects_to_another_origin_receive_no_credential(fake, auth_client, api_client):
    (registered_id,) = create_products(auth_client, 1)
    sync_once()
    before = mirror_of(registered_id)
    fake.set_hostile(registered_id, "redirect")
    fake.churn_step(20)
    sync_once()  # the offers call redirects: a failed call, the cache kept, still registered
    product = ProductSyncState.objects.get(pk=registered_id)
    assert mirror_of(registered_id) == before
    assert "redirect" in product.last_sync_error
    assert product.registered_at is not None

    # A new product whose registration redirects: created, pending, and the worker keeps trying.
    fake.set_faults(hostile_rate=1.0)
    response = auth_client.post("/products", {"name": "redirected"}, format="json")
    assert response.status_code == 201
    assert api_client.get(f"/products/{response.json()['id']}").json()["registered"] is False

    # /auth itself redirects: the calls that needed a new token fail, and the refresh token stays home.
    fake.set_faults(hostile_rate=0.0)
    fake.set_hostile(registered_id, None)
    fake.set_auth_hostile("redirect")
    fake.expire_token()
    auth_calls = fake.stats()["auth_requests"]
    result = run_once(fake)
    # The stored token still looks valid, so the cycle runs; the 401 sends the fetch to /auth.
    assert result.returncode == 0, result.stderr[-3000:]
    assert fake.stats()["auth_requests"] > auth_calls
    assert mirror_of(registered_id) == before
    assert "auth: answered a redirect" in ProductSyncState.objects.get(pk=registered_id).last_sync_error
    assert fake.trap_stats()["requests"] == 0
    assert_no_credential_leaked(fake)
