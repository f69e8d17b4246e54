"""Real `run_webhooks` processes against the test database and a verifying receiver: several
workers share the work without sending an event twice at once, a killed worker loses nothing,
SIGTERM ends a worker cleanly, a running worker serves its counts on its metrics port."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from aggregator.tests.scrape import get, samples
from alerts.models import Delivery, DeliveryStatus, EventType
from alerts.services import _events_create
from alerts.tests.conftest import attempts
from tests.system.live import free_port, worker_env

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


METRICS_TOKEN = "metrics-token"


def start_worker(*args: str, **env) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_webhooks", *args],
        cwd=ROOT,
        env=worker_env(**{"WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true", "WEBHOOK_RETRY_DELAYS": "0,0,0", **env}),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_while_running(worker: subprocess.Popen, done, *, timeout: float, never: str) -> None:
    """Wait for `done()`; fail with `never` after `timeout`, or with the worker's output if it exits."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, never
        assert worker.poll() is None, worker.stdout.read()
        time.sleep(0.05)


def queue_pings(endpoint_id: str, count: int) -> set[str]:
    deliveries = _events_create([(EventType.WEBHOOK_PING, {"n": i}, endpoint_id) for i in range(count)])
    return {str(d.event_id) for d in deliveries}


@pytest.mark.postgres
def test_two_workers_deliver_1000_events_once_each(endpoint, receiver):
    if connection.vendor != "postgresql":
        pytest.skip("several delivery workers at once is a PostgreSQL deployment")
    expected = queue_pings(endpoint["id"], 1000)
    receiver.delay = 0.005
    workers = [start_worker("--once", WEBHOOK_CONCURRENCY="8") for _ in range(2)]
    outputs = [worker.communicate(timeout=180)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], outputs
    received = receiver.wait_for(1000)
    assert all(r.verified for r in received)
    assert receiver.overlaps == []  # never the same event in two requests at once
    assert {r.webhook_id for r in received} == expected  # none missed
    assert len(received) == 1000  # and, with no failures, none sent twice
    assert Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 1000
    assert all("delivered" in out for out in outputs), outputs  # both took a share


def test_a_killed_worker_loses_no_event(endpoint, receiver):
    # Timeout 1 s: the lease a worker takes ends 2 × 1 + 5 = 7 s after its claim.
    expected = queue_pings(endpoint["id"], 3)
    receiver.delay = 30  # every attempt hangs: the first worker dies mid-delivery
    first = start_worker(WEBHOOK_TIMEOUT="1", WEBHOOK_CONCURRENCY="4")
    try:
        wait_while_running(first, lambda: len(receiver.in_flight) >= 3, timeout=30, never="the first worker never sent")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    assert Delivery.objects.filter(status=DeliveryStatus.PENDING, attempts=0).count() == 3
    receiver.delay = 0
    second = start_worker(WEBHOOK_TIMEOUT="1")
    try:
        wait_while_running(
            second,
            lambda: Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() >= 3,
            timeout=60,
            never="the second worker never delivered the abandoned events",
        )
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=15) == 0
    delivered = {r.webhook_id for r in receiver.received if r.verified}
    assert delivered >= expected


def test_sigterm_finishes_the_attempts_in_flight_and_exits_0(endpoint, receiver):
    queue_pings(endpoint["id"], 2)
    receiver.delay = 1.5
    worker = start_worker(WEBHOOK_TIMEOUT="5")
    try:
        wait_while_running(worker, lambda: len(receiver.in_flight) >= 2, timeout=30, never="the worker never sent")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=15) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
    # Both attempts were answered and recorded before it exited: nothing is left to send twice.
    assert Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 2


def test_a_running_worker_serves_its_counts_on_its_port(endpoint, receiver):
    port = free_port()
    receiver.answers = [500]
    queue_pings(endpoint["id"], 2)
    worker = start_worker(
        WEBHOOK_METRICS_PORT=str(port), WEBHOOK_METRICS_ADDRESS="127.0.0.1", METRICS_TOKEN=METRICS_TOKEN
    )
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        receiver.wait_for(3)
        # The attempts are recorded just after the receiver answered: scrape until they show.
        deadline = time.monotonic() + 30
        while True:
            try:
                status, body = get(url, Authorization=f"Bearer {METRICS_TOKEN}")
            except OSError:  # the listener is not up yet
                status, body = 0, ""
            if status == 200 and attempts(body)["delivered"] == 2:
                break
            assert time.monotonic() < deadline and worker.poll() is None, (status, body)
            time.sleep(0.1)
        assert get(url)[0] == 401
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0]
    assert worker.returncode == 0, output
    assert attempts(body) == {"delivered": 2, "retrying": 1, "failed": 0, "lost": 0, "gone": 0}
    assert ("aggregator_webhook_deliveries_pending", ()) in samples(body)  # its value: a few seconds old
