"""The client's transport over real HTTP: the connection pool, credentials in the URL, a proxy.

The other client tests mock requests' adapter (`responses`), which skips the client's own adapter
(`offers_sync.client._ServiceAdapter`): these run it against a small local HTTP server that
records what reached it. They stay with the client's tests rather than in tests/system: the
server is in this process, on loopback, and answers at once.
"""

import base64
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from offers_sync.client import OfferData, OffersServiceClient
from offers_sync.tests.factories import StaticTokens, make_access_token

PRODUCT = uuid.UUID("6f1b2c1e-0000-4000-8000-000000000001")
OFFER = {"id": "4a1c7c0e-8c1b-4f4e-9a57-2b7d3c9e0f11", "price": 1200, "items_in_stock": 3}


class RecordingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[dict] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the offers service

    def do_GET(self):
        self.server.seen.append(
            {"request_line": self.requestline, "client_port": self.client_address[1], "headers": dict(self.headers)}
        )
        body = json.dumps([OFFER]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


@pytest.fixture
def server():
    server = RecordingServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def no_proxy_settings(monkeypatch):
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "")
    monkeypatch.setenv("no_proxy", "")


TOKENS = StaticTokens(make_access_token())
EXPECTED = [OfferData(id=uuid.UUID(OFFER["id"]), price=1200, items_in_stock=3)]


@pytest.fixture
def make_client():
    made = []

    def make(base_url: str) -> OffersServiceClient:
        made.append(OffersServiceClient(base_url))
        return made[-1]

    yield make
    for client in made:
        client.close()


def test_calls_share_one_kept_alive_connection_and_reach_the_right_path(server, no_proxy_settings, make_client):
    client = make_client(server.url)
    answers = [client.get_offers(TOKENS, PRODUCT) for _ in range(5)]
    assert answers == [EXPECTED] * 5
    assert {seen["request_line"] for seen in server.seen} == {f"GET /api/v1/products/{PRODUCT}/offers HTTP/1.1"}
    assert len({seen["client_port"] for seen in server.seen}) == 1
    assert server.seen[0]["headers"]["Bearer"] == TOKENS.get()


def test_a_base_url_with_a_path_keeps_it(server, no_proxy_settings, make_client):
    client = make_client(server.url + "/offers-service/")
    assert client.get_offers(TOKENS, PRODUCT) == EXPECTED
    assert server.seen[0]["request_line"] == f"GET /offers-service/api/v1/products/{PRODUCT}/offers HTTP/1.1"


def test_credentials_in_the_base_url_go_as_basic_auth_as_requests_sends_them(server, no_proxy_settings, make_client):
    client = make_client(server.url.replace("http://", "http://svc:s%40cret@"))
    assert client.get_offers(TOKENS, PRODUCT) == EXPECTED
    headers = server.seen[0]["headers"]
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"svc:s@cret").decode()
    assert headers["Bearer"] == TOKENS.get()
    assert server.seen[0]["request_line"] == f"GET /api/v1/products/{PRODUCT}/offers HTTP/1.1"


def test_a_proxy_from_the_environment_carries_the_calls(server, monkeypatch, make_client):
    # The server stands in for the proxy: a proxied request names the whole URL in its request line.
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", server.url)
    monkeypatch.setenv("http_proxy", server.url)
    client = make_client("http://offers.invalid")
    assert client.get_offers(TOKENS, PRODUCT) == EXPECTED
    assert server.seen[0]["request_line"] == f"GET http://offers.invalid/api/v1/products/{PRODUCT}/offers HTTP/1.1"
