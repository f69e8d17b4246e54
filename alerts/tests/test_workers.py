"""Real `run_webhooks` processes against the test database and a verifying receiver: several
workers share the work without sending an event twice at once, a killed worker loses nothing,
SIGTERM ends a worker cleanly."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from alerts.models import Delivery, DeliveryStatus, EventType
from alerts.services import _events_create
from tests.system.live import current_database_url

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def worker_env(**extra) -> dict:
    database_url = current_database_url()
    return {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "aggregator.settings",
        "SECRET_KEY": "e2e-only",
        "CURRENCY": "EUR",
        "DATABASE_URL": database_url,
        "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
        "WEBHOOK_RETRY_DELAYS": "0,0,0",
        **extra,
    }


def start_worker(*args: str, **env) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_webhooks", *args],
        cwd=ROOT,
        env=worker_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


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
        deadline = time.monotonic() + 30
        while len(receiver.in_flight) < 3:
            assert time.monotonic() < deadline, "the first worker never sent"
            assert first.poll() is None, first.stdout.read()
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    assert Delivery.objects.filter(status=DeliveryStatus.PENDING, attempts=0).count() == 3
    receiver.delay = 0
    second = start_worker(WEBHOOK_TIMEOUT="1")
    try:
        deadline = time.monotonic() + 60
        while Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() < 3:
            assert time.monotonic() < deadline, "the second worker never delivered the abandoned events"
            assert second.poll() is None, second.stdout.read()
            time.sleep(0.2)
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
        deadline = time.monotonic() + 30
        while len(receiver.in_flight) < 2:
            assert time.monotonic() < deadline, "the worker never sent"
            assert worker.poll() is None, worker.stdout.read()
            time.sleep(0.05)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=15) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
    # Both attempts were answered and recorded before it exited: nothing is left to send twice.
    assert Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 2
