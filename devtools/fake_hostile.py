"""Hostile answers of the fake offers service, and the trap a hostile redirect points at.

A real service, or whatever sits in front of it, can answer anything (shared/offers-service.md,
last section). Each kind below is one way an answer can be hostile to a client: numbers that do
not fit its columns, nesting that makes a recursive parser overflow, offer ids of another
product, bodies too large to buffer or not UTF-8, a redirect to another origin, a connection
reset instead of an answer, an answer that drips its headers or its body a byte at a time. The
fake gives them at `hostile_rate` (drawn per offers or register
call) or always, for chosen products (`set_hostile`) or for /auth (`set_auth_hostile`).

`RedirectTrap` is a second HTTP server, on another port (so another origin), that a `redirect`
answer sends the client to. It answers every request `404 {"detail": "Product does not exist"}`
(what a client that follows redirects would take for "not registered") and records which headers
it received, so a test can check that no credential ever reached it.
"""

from __future__ import annotations

import json
import random
import socket
import socketserver
import struct
import threading
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Kinds that make sense for any call (they never get as far as a body the client would parse).
TRANSPORT_KINDS = ("redirect", "reset", "oversized")
# Kinds of a 200 body of an offers answer.
BODY_KINDS = (
    "price-past-64-bits",
    "price-past-bigint",
    "negative-stock",
    "bool-price",
    "float-stock",
    "deep-nesting",
    "foreign-offer-id",
    "duplicate-offer-id",
    "not-a-list",
    "non-utf8",
)
HOSTILE_KINDS = TRANSPORT_KINDS + BODY_KINDS
# Slow answers, only for chosen products or /auth (never drawn at `hostile_rate`): the status line,
# then the headers (or, after whole headers, the body) a byte every DRIP_INTERVAL_SECONDS, for ever.
SLOW_KINDS = ("drip-headers", "drip-body")
# What /auth can be made to answer (set_auth_hostile).
AUTH_KINDS = ("redirect", "reset", "oversized", "deep-nesting", "non-utf8", *SLOW_KINDS)
DRIP_INTERVAL_SECONDS = 0.2

OVERSIZED_BYTES = 5 * 1024 * 1024  # over the client's 4 MiB limit
DEEP_NESTING_LEVELS = 200_000
_oversized_body: bytes | None = None
_oversized_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class HostileAnswer:
    """What the handler sends: an HTTP answer, or (reset) a connection closed with a RST."""

    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    reset: bool = False
    drip: str = ""  # a SLOW_KINDS kind: sent by `drip`, a byte at a time


def drip(kind: str, wfile, stopping: threading.Event) -> None:
    """Answer a byte at a time until the client hangs up or the fake stops."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    if kind == "drip-headers":
        endless = b"X-Slow: " + b"a" * 60_000
    else:
        head += b"Content-Length: 1000000\r\n\r\n"
        endless = b"[" * 1_000_000
    try:
        wfile.write(head)
        wfile.flush()
        for byte in endless:
            if stopping.wait(DRIP_INTERVAL_SECONDS):
                return
            wfile.write(bytes((byte,)))
            wfile.flush()
    except OSError:
        pass  # the client gave up: what it should do


def oversized_body() -> bytes:
    """A valid JSON list larger than the client reads; built once, it is 5 MiB."""
    global _oversized_body
    with _oversized_lock:
        if _oversized_body is None:
            item = b'{"id":"00000000-0000-0000-0000-000000000000","price":1,"items_in_stock":1},'
            count = OVERSIZED_BYTES // len(item) + 1
            _oversized_body = b"[" + item * count + b"0]"
        return _oversized_body


def transport_answer(kind: str, *, trap_url: str, path: str) -> HostileAnswer:
    if kind == "redirect":
        return HostileAnswer(307, b"", (("Location", f"{trap_url}{path}"),))
    if kind == "reset":
        return HostileAnswer(reset=True)
    if kind in SLOW_KINDS:
        return HostileAnswer(drip=kind)
    if kind == "oversized":
        return HostileAnswer(200, oversized_body())
    raise ValueError(kind)


def deep_nesting_body() -> bytes:
    return b"[" * DEEP_NESTING_LEVELS + b"]" * DEEP_NESTING_LEVELS


def offers_answer(kind: str, offers: list[dict], *, foreign: dict | None, rng: random.Random) -> HostileAnswer:
    """A hostile 200 to an offers call; `offers` are the product's real ones (copied, not changed)."""
    offers = [dict(offer) for offer in offers] or [{"id": str(_random_id(rng)), "price": 100, "items_in_stock": 1}]
    victim = offers[rng.randrange(len(offers))]
    if kind == "price-past-64-bits":
        victim["price"] = 2**64 + 12345
    elif kind == "price-past-bigint":
        victim["price"] = 2**63  # fits an unsigned 64-bit integer, not a signed one
    elif kind == "negative-stock":
        victim["items_in_stock"] = -1
    elif kind == "bool-price":
        victim["price"] = True
    elif kind == "float-stock":
        victim["items_in_stock"] = 1e300
    elif kind == "deep-nesting":
        return HostileAnswer(200, deep_nesting_body())
    elif kind == "foreign-offer-id":
        offers.append(dict(foreign) if foreign else {"id": str(_random_id(rng)), "price": 1, "items_in_stock": 1})
    elif kind == "duplicate-offer-id":
        offers.append({**victim, "price": victim["price"] + 1})
    elif kind == "not-a-list":
        return HostileAnswer(200, json.dumps({"offers": offers}).encode())
    elif kind == "non-utf8":
        return HostileAnswer(200, json.dumps(offers).encode().replace(b'"id"', b'"\xff\xfeid"', 1))
    else:
        raise ValueError(kind)
    return HostileAnswer(200, json.dumps(offers).encode())


def auth_answer(kind: str, *, trap_url: str, path: str) -> HostileAnswer:
    if kind in TRANSPORT_KINDS or kind in SLOW_KINDS:
        return transport_answer(kind, trap_url=trap_url, path=path)
    if kind == "deep-nesting":
        return HostileAnswer(201, deep_nesting_body())
    if kind == "non-utf8":
        return HostileAnswer(201, b'{"access_token": "\xff\xfe"}')
    raise ValueError(kind)


def reset_connection(connection: socket.socket) -> None:
    """Close with a RST (linger 0): the client sees 'connection reset by peer', no answer."""
    try:
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.close()
    except OSError:
        pass


def _random_id(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128))


class RedirectTrap:
    """Another origin a hostile redirect points at; records the headers it was sent."""

    # Headers that carry a credential of the offers service's contract, or any usual one.
    CREDENTIAL_HEADERS = ("bearer", "authorization", "cookie", "proxy-authorization")

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._lock = threading.Lock()
        self._requests = 0
        self._credentials: list[str] = []  # names of credential headers received (never values)
        self._server: ThreadingHTTPServer | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        return f"http://{self.host}:{self._server.server_address[1]}"

    def start(self) -> RedirectTrap:
        trap = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if 0 < length <= 1024 * 1024:
                    self.rfile.read(length)
                trap.record(self.headers)
                body = b'{"detail":"Product does not exist"}'
                self.send_response(404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

            def log_message(self, format: str, *args) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def server_bind(self) -> None:
                socketserver.TCPServer.server_bind(self)  # no reverse DNS lookup
                self.server_name, self.server_port = self.server_address[:2]

        self._server = Server((self.host, 0), Handler)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def record(self, headers) -> None:
        received = [name for name in self.CREDENTIAL_HEADERS if headers.get(name) is not None]
        with self._lock:
            self._requests += 1
            self._credentials += received

    def stats(self) -> dict:
        """{"requests": n, "credential_headers": [names of credential headers received]}."""
        with self._lock:
            return {"requests": self._requests, "credential_headers": list(self._credentials)}
