"""PostgreSQL goes away under a running web app and worker, and comes back; and gunicorn's limits.

Gunicorn (two workers) and `manage.py run_sync` run as deployed against a private PostgreSQL
cluster of this test's own (the shared server other tests use is never touched), with the fake
offers service in this process. While the cluster is down: /health answers 503 JSON, the API a
JSON 503 with Retry-After (never an HTML 500), and the worker logs the outage and keeps waiting.
Once it is back both recover without a restart, and every product and offer is still there.

The same stack checks gunicorn's limits (gunicorn.conf.py): an oversized request line or header
is refused by gunicorn itself, before Django, with a 4xx.

Skipped where PostgreSQL's server binaries are not installed. About half a minute.
"""

import socket

import pytest
import requests

from devtools.fake_service import FakeOffersService
from tests.system.live import (
    Api,
    PrivateCluster,
    create_api_token,
    free_port,
    manage,
    service_env,
    start_web,
    start_worker,
    wait_for,
)

REFRESH_TOKEN = "outage-refresh-token"
PRODUCTS = 12

pytestmark = pytest.mark.skipif(PrivateCluster.unavailable_reason() is not None, reason="no private PostgreSQL")


@pytest.fixture(scope="module")
def cluster():
    cluster = PrivateCluster().create()
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture(scope="module")
def fake():
    # No churn: upstream's offers stay put, so the mirror before and after must be equal.
    with FakeOffersService(refresh_token=REFRESH_TOKEN, latency_ms=0, jitter_ms=0, churn_interval=0, seed=3) as service:
        yield service


@pytest.fixture(scope="module")
def stack(cluster, fake, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("stack")
    env = service_env(
        cluster.url,
        fake.url,
        REFRESH_TOKEN,
        SYNC_SCHEDULE="*/2 * * * * *",
        SYNC_CONCURRENCY="4",
        SYNC_HEARTBEAT_FILE=str(tmp_path / "heartbeat"),
        THROTTLE_ANON_READ_RATE="off",
        THROTTLE_WRITE_RATE="off",
    )
    manage(env, "migrate", "--noinput")
    token = create_api_token(env)
    port = free_port()
    processes = []
    try:
        processes.append(start_web(env, port, tmp_path))
        processes.append(start_worker(env, tmp_path))
        yield Api(f"http://127.0.0.1:{port}", token), *processes
    finally:
        for process in reversed(processes):
            process.stop()


def mirror(api: Api) -> dict[str, list[str]]:
    """Every product id with the ids of its cached offers, as the API serves them."""
    return {
        product["id"]: sorted(offer["id"] for offer in api.get(f"/products/{product['id']}/offers").json())
        for product in api.all_products()
    }


def assert_json_503(response: requests.Response) -> None:
    assert response.status_code == 503, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"].startswith("application/json")
    assert "<html" not in response.text.lower()
    assert int(response.headers["Retry-After"]) > 0


def test_web_and_worker_ride_out_a_database_outage(cluster, fake, stack):
    api, web, worker = stack
    product_ids = [api.post("/products", {"name": f"product {i}"}).json()["id"] for i in range(PRODUCTS)]
    wait_for(
        lambda: all(p["offers_synced_at"] for p in api.all_products()),
        timeout=60,
        what="the first sync of every product",
    )
    before = mirror(api)
    assert sorted(before) == sorted(product_ids)
    assert all(before.values())

    cluster.stop()
    try:
        health = api.get("/health")
        assert health.status_code == 503
        assert health.json() == {"status": "unhealthy", "database": "disconnected", "last_sync": None}
        # Several of each, so that both gunicorn workers (each with its own kept connection) answer.
        for _ in range(4):
            assert_json_503(api.get("/products"))
            assert_json_503(api.get(f"/products/{product_ids[0]}"))
            assert_json_503(api.get(f"/products/{product_ids[0]}/offers"))
            assert_json_503(api.post("/products", {"name": "during the outage"}))
            assert_json_503(api.request("PATCH", f"/products/{product_ids[0]}", json={"name": "renamed"}))
            assert_json_503(api.request("DELETE", f"/products/{product_ids[1]}"))
        wait_for(lambda: "database unavailable" in worker.log(), timeout=30, what="the worker to log the outage")
        outage_log_length = len(worker.log())
        assert web.alive() and worker.alive()
    finally:
        cluster.start()

    wait_for(lambda: api.get("/health").status_code == 200, timeout=30, what="/health to recover")
    for _ in range(4):
        assert api.get("/products").status_code == 200
    wait_for(lambda: "finished" in worker.log()[outage_log_length:], timeout=30, what="a sync cycle after the outage")
    assert mirror(api) == before

    # Writes work again, and the worker registers and syncs a new product.
    created = api.post("/products", {"name": "after the outage"})
    assert created.status_code == 201
    new_id = created.json()["id"]
    wait_for(lambda: api.get(f"/products/{new_id}/offers").json(), timeout=30, what="the new product's offers")
    assert sorted(o["id"] for o in api.get(f"/products/{new_id}/offers").json()) == sorted(
        o["id"] for o in fake.product_offers(new_id)
    )
    assert web.alive() and worker.alive()


def raw_request(api: Api, head: bytes) -> bytes:
    """Send a hand-made request (requests would refuse to) and return the status line."""
    host, port = api.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head + b"Host: localhost\r\nConnection: close\r\n\r\n")
        return sock.makefile("rb").readline().strip()


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"GET /products?search=" + b"x" * 9000 + b" HTTP/1.1\r\n", b"414"),
        (b"GET /health HTTP/1.1\r\nX-Big: " + b"x" * 9000 + b"\r\n", b"431"),
        (b"GET /health HTTP/1.1\r\n" + b"".join(b"X-H%d: 1\r\n" % i for i in range(101)), b"431"),
        (b"GET /health HTTP/1.1\r\nX-Nul: a\x00b\r\n", b"400"),
    ],
    ids=["request line over 8190 bytes", "header over 8190 bytes", "over 100 headers", "NUL in a header"],
)
def test_gunicorn_refuses_oversized_requests_before_django(stack, head, status):
    api, web, _ = stack
    assert raw_request(api, head).split(b" ")[1] == status
    assert api.get("/health").status_code == 200
    assert web.alive()
