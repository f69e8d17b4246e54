"""A fake of the external offers service, for local runs, end-to-end tests, soak runs and benchmarks.

It serves the external service's HTTP contract, token rules included, over real HTTP with the
standard library only, so that the client and the worker are tested against the rules they meet
in production (docs/development.md says how to run it). Start it with
`python manage.py run_fake_offers --port 8001`, or in-process::

    with FakeOffersService(refresh_token="secret", latency_ms=0, jitter_ms=0) as fake:
        requests.post(f"{fake.url}/api/v1/auth", headers={"Bearer": "secret"})

Offers API (JSON; credentials go in a header literally named `Bearer`)
    POST /api/v1/auth                         Bearer: <refresh token>. 201 {"access_token": jwt};
                                              400 while the last token is unexpired; 401; 422.
    POST /api/v1/products/register            {"id", "name", "description"}: 201 / 409 / 422.
    GET  /api/v1/products/{id}/offers         200 [{"id", "price", "items_in_stock"}] / 404 / 422.
  Every call but /auth needs `Bearer: <access token>` (missing: 422; unknown or expired: 401).
  The access token is an HS256 JWT with payload {"token": <refresh token>, "expires": <unix s>};
  only the latest one is valid, until `expires`, and no new one is issued before then.
  Every /api/v1 call waits latency_ms +- jitter_ms first (uniform), without holding any lock.

Evolving offers
  Time is cut into churn epochs of `churn_interval` seconds (0: only manual steps). Reading a
  product first applies the epochs it missed (at most MAX_CATCH_UP_EPOCHS), so the cost follows
  the products read, not the products registered. Per epoch an offer may change price (+-10%) or
  stock, or vanish (sold-out ones much more likely), and a product may gain an offer: about 15% of
  products change per epoch, with about 4 offers each. With a seed, a product's offers depend
  only on the seed, its id and the epoch, not on who read it when (unless it went unread for
  more than MAX_CATCH_UP_EPOCHS epochs).

Faults (rates 0..1, drawn per call to register or offers, in this order, first one wins)
  rate_limit_rate  429 {"detail": ...} with Retry-After: 1.
  error_rate       500, 502 or 503, with a JSON or an HTML body.
  timeout_rate     holds the call for timeout_seconds, then answers it normally (too late).
  malformed_rate   offers calls only: 200 with a broken body (invalid JSON; a list in which one
                   offer lacks a price, has a non-integer price or a non-UUID id; or an object).
  hostile_rate     register and offers calls: a hostile answer (devtools.fake_hostile): a 307
                   to another origin (the trap), a connection reset, a body over 4 MiB; for
                   offers also numbers past 64 bits or past a signed BIGINT, negative stock, a
                   bool price, a float stock, JSON nested 200,000 deep, another product's offer
                   id, a repeated offer id, an object instead of a list, bytes that are not UTF-8.
  Faults come before validation and authentication, as a gateway's would (hostile bodies of
  offers calls, which need the product's offers, come after).
  Per product, `set_hostile(id, kind)` makes every offers call of that product (and, for the
  redirect, reset, oversized and slow kinds, its register calls) hostile of that kind; `set_auth_hostile`
  does the same for /auth (redirect, reset, oversized, deep-nesting, non-utf8, and the slow kinds).
  The slow kinds, `drip-headers` and `drip-body`, are only ever set this way: the status line, then
  headers (or whole headers, then a body) a byte every 0.2 s until the client hangs up.

Control API (no auth, no latency, no faults, not counted), for tests, soak runs and benchmarks
    GET  /_control/state                  faults, counters, churn, token state, product count.
    PUT  /_control/faults                 partial {"error_rate", "rate_limit_rate", "timeout_rate",
                                          "malformed_rate", "timeout_seconds", "latency_ms",
                                          "jitter_ms"} -> 200 the new config (422 on bad values).
    POST /_control/expire-token           the current access token expires now.
    PUT  /_control/products/{id}/hostile  {"kind": <kind>|null}: that product's answers are hostile.
    PUT  /_control/auth-hostile           {"kind": <kind>|null}: /auth's answers are hostile.
    GET  /_control/trap                   {"url", "requests", "credential_headers"}: what reached the
                                          redirect trap (names of credential headers, never values).
    POST /_control/outage                 {"seconds": n}: stop listening (connections refused) for n
                                          seconds, state kept, then serve again on the same port.
    POST /_control/churn                  {"paused": true|false} stops or restarts timed churn.
    POST /_control/churn/step             {"epochs": n} optional (default 1): every registered
                                          product evolves n epochs now.
    GET  /_control/products/{id}          {"id", "name", "description"} as registered, or 404.
    GET  /_control/products/{id}/offers   the product's current offers (evolved first), or 404.
    DELETE /_control/products/{id}        the service forgets the product (its reads get 404).
    GET  /_control/stats                  {"auth_requests", "auth_refused_another_valid",
                                          "register_requests", "offers_requests": {id: count}}.
    POST /_control/stats/reset            zeroes the stats.
  The stats count every request that arrives, whatever its answer (faulty, 401, 404...);
  offers requests are keyed by the canonical product id and not counted if the id is not a UUID.
  FakeOffersService has a Python method for each of these (state, set_faults, expire_token,
  set_churn_paused, churn_step, product, product_offers, forget_product, stats, reset_stats,
  set_hostile, set_auth_hostile, trap_stats, outage) and register_product.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import random
import secrets
import socket
import socketserver
import threading
import time
import uuid
from dataclasses import asdict, dataclass, fields
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from urllib.parse import unquote, urlsplit

from devtools import fake_hostile

logger = logging.getLogger(__name__)

DEFAULT_REFRESH_TOKEN = "local-development-refresh-token"
MAX_BODY_BYTES = 1024 * 1024
# A product unread for longer than this many epochs is only evolved by the last ones: its offers
# are as random after 32 epochs as after 10,000, and catching up must stay cheap under the lock.
MAX_CATCH_UP_EPOCHS = 32

# Churn per epoch. With 1-8 offers (4.5 on average) about 15% of products change per epoch.
P_PRICE_CHANGE = 0.015
P_STOCK_CHANGE = 0.015
P_VANISH = 0.002
P_VANISH_SOLD_OUT = 0.1
P_NEW_OFFER = 0.02
P_NEW_OFFER_WHEN_EMPTY = 0.5
P_KEEP_LAST_OFFER = 0.9

ANOTHER_IS_VALID = "Cannot generate access token because another is valid"


@dataclass
class FaultConfig:
    """Latency and fault injection; every field can be changed while the service runs."""

    error_rate: float = 0.0
    rate_limit_rate: float = 0.0
    timeout_rate: float = 0.0
    malformed_rate: float = 0.0
    hostile_rate: float = 0.0
    timeout_seconds: float = 30.0
    latency_ms: float = 20.0
    jitter_ms: float = 10.0

    def updated(self, changes: dict) -> FaultConfig:
        """A copy with `changes` applied; TypeError or ValueError names the first bad field."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown fields: {', '.join(unknown)}")
        values = asdict(self)
        for name, value in changes.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"{name} must be a number")
            if value < 0 or (name.endswith("_rate") and value > 1):
                raise ValueError(
                    f"{name} must be between 0 and 1" if name.endswith("_rate") else f"{name} must be >= 0"
                )
            values[name] = float(value)
        return FaultConfig(**values)


@dataclass(slots=True)
class _Offer:
    id: str
    price: int
    items_in_stock: int

    def as_dict(self) -> dict:
        # Not dataclasses.asdict: it deep-copies, and this runs for every offer of every read.
        return {"id": self.id, "price": self.price, "items_in_stock": self.items_in_stock}


@dataclass(slots=True)
class _Product:
    id: str
    name: str
    description: str
    offers: list[_Offer]
    epoch: int  # the last churn epoch applied to it


@dataclass
class _Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    reset: bool = False  # no answer: the connection is reset
    drip: str = ""  # a slow answer (fake_hostile.SLOW_KINDS), a byte at a time


def _from_hostile(answer: fake_hostile.HostileAnswer) -> _Response:
    return _Response(answer.status, answer.body, headers=answer.headers, reset=answer.reset, drip=answer.drip)


def _json(status: int, payload) -> _Response:
    return _Response(status, json.dumps(payload, separators=(",", ":")).encode())


def _detail(status: int, detail) -> _Response:
    return _json(status, {"detail": detail})


def _missing(loc: list) -> dict:
    return {"loc": loc, "msg": "field required", "type": "value_error.missing"}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def encode_jwt(payload: dict, secret: bytes) -> str:
    """An HS256 JWT (compact form, base64url without padding) of `payload`."""
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = _b64url(json.dumps(payload, separators=(",", ":")).encode())
    signature = hmac.new(secret, f"{header}.{body}".encode("ascii"), hashlib.sha256).digest()
    return f"{header}.{body}.{_b64url(signature)}"


def _canonical_uuid(text) -> str | None:
    if not isinstance(text, str):
        return None
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


def _offer_id(rng: random.Random, *, reserved_variant: bool) -> str:
    # 128 random bits, so version and variant are random too, as the real service's ids are.
    # `reserved_variant` forces a non-RFC 4122 variant, so every product shows at least one such id.
    value = rng.getrandbits(128)
    if reserved_variant:
        value |= 0b111 << 61
    return str(uuid.UUID(int=value))


def _new_offer(rng: random.Random, *, reserved_variant: bool = False) -> _Offer:
    stock = 0 if rng.random() < 0.15 else rng.randint(1, 100)
    return _Offer(_offer_id(rng, reserved_variant=reserved_variant), rng.randint(100, 100_000), stock)


class _EpochClock:
    """Churn epochs: elapsed intervals while not paused, plus the epochs stepped by hand."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.paused = False
        self._base = 0
        self._started = time.monotonic()

    def current(self) -> int:
        if self.paused or self.interval <= 0:
            return self._base
        return self._base + int((time.monotonic() - self._started) // self.interval)

    def set_paused(self, paused: bool) -> None:
        if paused and not self.paused:
            self._base = self.current()
            self.paused = True
        elif not paused and self.paused:
            self._started = time.monotonic()
            self.paused = False

    def step(self, epochs: int) -> int:
        self._base += epochs
        return self.current()


class FakeOffersService:
    """The fake offers service: its state, its rules, and an HTTP server serving them.

    Thread-safe: one lock guards the shared state and is held only for short bookkeeping, never
    across the latency or timeout waits.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        refresh_token: str = DEFAULT_REFRESH_TOKEN,
        *,
        token_lifetime: int = 300,
        latency_ms: float = 20.0,
        jitter_ms: float = 10.0,
        churn_interval: float = 10.0,
        error_rate: float = 0.0,
        rate_limit_rate: float = 0.0,
        timeout_rate: float = 0.0,
        malformed_rate: float = 0.0,
        hostile_rate: float = 0.0,
        timeout_seconds: float = 30.0,
        auto_register: bool = False,
        seed: int | None = None,
        keepalive_timeout: float = 60.0,
    ) -> None:
        if not refresh_token:
            raise ValueError("refresh_token must not be empty")
        self.host = host
        self.port = port
        self.token_lifetime = int(token_lifetime)
        self.auto_register = auto_register
        self.keepalive_timeout = keepalive_timeout
        self._refresh_token = refresh_token.encode()
        self._refresh_token_text = refresh_token
        self._jwt_secret = secrets.token_bytes(32)
        self._faults = FaultConfig().updated(
            {
                "error_rate": error_rate,
                "rate_limit_rate": rate_limit_rate,
                "timeout_rate": timeout_rate,
                "malformed_rate": malformed_rate,
                "hostile_rate": hostile_rate,
                "timeout_seconds": timeout_seconds,
                "latency_ms": latency_ms,
                "jitter_ms": jitter_ms,
            }
        )
        # Per-product randomness derives from this, so a seeded run is reproducible.
        self._seed = seed if seed is not None else secrets.randbits(64)
        self._fault_rng = random.Random(f"{self._seed}:faults")
        self._lock = threading.Lock()
        self._products: dict[str, _Product] = {}
        self._epochs = _EpochClock(churn_interval)
        self._access_token: str | None = None
        self._access_expires = 0.0  # when the server stops accepting it (expire-token moves it)
        self._last_expires = 0  # the `expires` of the last token issued
        self._reset_stats_locked()
        self._hostile_products: dict[str, str] = {}
        self._auth_hostile: str | None = None
        self._trap = fake_hostile.RedirectTrap(host if host not in ("", "0.0.0.0") else "127.0.0.1")
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL to configure a client with, e.g. http://127.0.0.1:8001."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> Self:
        """Bind and serve in a daemon thread; returns once the port accepts connections."""
        if not self._trap.running:
            self._trap.start()
        self._serve()
        return self

    def _serve(self) -> None:
        self._stopping.clear()
        self._server = _Server((self.host, self.port), _Handler)
        self._server.fake = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-offers", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, wake held requests and close open connections."""
        self._stop_serving()
        self._trap.stop()

    def _stop_serving(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # -- programmatic control (mirrors /_control) -----------------------------------------------

    def state(self) -> dict:
        """Faults, counters, churn and token state, and how many products are registered."""
        with self._lock:
            now = time.time()
            return {
                "faults": asdict(self._faults),
                "counters": {
                    "auth_requests": self._auth_requests,
                    "auth_refused_another_valid": self._auth_refused,
                    "register_requests": self._register_requests,
                    "offers_requests": sum(self._offers_requests.values()),
                },
                "churn": {
                    "interval": self._epochs.interval,
                    "paused": self._epochs.paused,
                    "epoch": self._epochs.current(),
                },
                "token": {
                    "lifetime": self.token_lifetime,
                    "valid": self._access_token is not None and now < self._access_expires,
                    "expires": self._last_expires or None,
                },
                "products": len(self._products),
                "auto_register": self.auto_register,
                "hostile_products": dict(self._hostile_products),
                "auth_hostile": self._auth_hostile,
            }

    @property
    def faults(self) -> dict:
        """The current latency and fault configuration."""
        with self._lock:
            return asdict(self._faults)

    def set_faults(self, **changes) -> dict:
        """Change some of the fault settings (TypeError/ValueError on a bad one); returns the new config."""
        with self._lock:
            self._faults = self._faults.updated(changes)
            return asdict(self._faults)

    def set_hostile(self, product_id: str, kind: str | None) -> None:
        """Make every answer for this product hostile of `kind` (None: normal again)."""
        canonical = _canonical_uuid(str(product_id))
        if canonical is None:
            raise ValueError("product_id must be a UUID")
        kinds = fake_hostile.HOSTILE_KINDS + fake_hostile.SLOW_KINDS
        if kind is not None and kind not in kinds:
            raise ValueError(f"kind must be one of {', '.join(kinds)}")
        with self._lock:
            if kind is None:
                self._hostile_products.pop(canonical, None)
            else:
                self._hostile_products[canonical] = kind

    def set_auth_hostile(self, kind: str | None) -> None:
        """Make /auth's answers hostile of `kind` (None: normal again)."""
        if kind is not None and kind not in fake_hostile.AUTH_KINDS:
            raise ValueError(f"kind must be one of {', '.join(fake_hostile.AUTH_KINDS)}")
        with self._lock:
            self._auth_hostile = kind

    def trap_stats(self) -> dict:
        """What reached the redirect trap: its URL, request count, credential headers' names."""
        return {"url": self._trap.url, **self._trap.stats()}

    def outage(self, seconds: float) -> None:
        """Stop listening now and serve again on the same port after `seconds`; state is kept."""
        if self._server is None:
            return

        def down_then_up() -> None:
            self._stop_serving()
            time.sleep(seconds)
            self._serve()

        # Not in the caller's thread: that may be a request handler of the server being stopped.
        threading.Timer(0.05, down_then_up).start()

    def expire_token(self) -> bool:
        """Make the current access token expire now; returns whether one was valid."""
        with self._lock:
            was_valid = self._access_token is not None and time.time() < self._access_expires
            self._access_expires = 0.0
            return was_valid

    def set_churn_paused(self, paused: bool) -> None:
        """Stop (or restart) timed churn; manual steps still apply."""
        with self._lock:
            self._epochs.set_paused(paused)

    def churn_step(self, epochs: int = 1) -> int:
        """Evolve every registered product by `epochs` epochs now; returns the new epoch number."""
        # O(1) whatever the number of products: each one applies the epochs it missed when read.
        with self._lock:
            return self._epochs.step(epochs)

    def register_product(self, product_id: str, name: str = "", description: str = "") -> bool:
        """Register a product without HTTP (e.g. to seed a benchmark); False if it already was."""
        canonical = _canonical_uuid(str(product_id))
        if canonical is None:
            raise ValueError("product_id must be a UUID")
        with self._lock:
            return self._register_locked(canonical, name, description)

    def forget_product(self, product_id: str) -> bool:
        """Drop a registered product, as a service that lost its data would; False if unknown."""
        with self._lock:
            return self._products.pop(_canonical_uuid(str(product_id)) or "", None) is not None

    def product(self, product_id: str) -> dict | None:
        """The product as registered ({"id", "name", "description"}), or None."""
        with self._lock:
            product = self._products.get(_canonical_uuid(str(product_id)) or "")
            if product is None:
                return None
            return {"id": product.id, "name": product.name, "description": product.description}

    def product_offers(self, product_id: str) -> list[dict] | None:
        """The product's current offers (evolved first, like a read), or None if not registered."""
        with self._lock:
            product = self._products.get(_canonical_uuid(str(product_id)) or "")
            if product is None:
                return None
            self._evolve_locked(product)
            return [offer.as_dict() for offer in product.offers]

    def stats(self) -> dict:
        """Request counts since the start or the last reset (see the module docstring)."""
        with self._lock:
            return {
                "auth_requests": self._auth_requests,
                "auth_refused_another_valid": self._auth_refused,
                "register_requests": self._register_requests,
                "offers_requests": dict(self._offers_requests),
            }

    def reset_stats(self) -> None:
        """Zero every counter."""
        with self._lock:
            self._reset_stats_locked()

    # -- state, under the lock -------------------------------------------------------------------

    def _reset_stats_locked(self) -> None:
        self._auth_requests = 0
        self._auth_refused = 0
        self._register_requests = 0
        self._offers_requests: dict[str, int] = {}

    def _register_locked(self, product_id: str, name: str, description: str) -> bool:
        if product_id in self._products:
            return False
        rng = random.Random(f"{self._seed}:{product_id}:register")
        count = rng.randint(1, 8)
        offers = [_new_offer(rng, reserved_variant=i == 0) for i in range(count)]
        self._products[product_id] = _Product(product_id, name, description, offers, self._epochs.current())
        return True

    def _evolve_locked(self, product: _Product) -> None:
        target = self._epochs.current()
        for epoch in range(max(product.epoch + 1, target - MAX_CATCH_UP_EPOCHS + 1), target + 1):
            self._churn_once(product, random.Random(f"{self._seed}:{product.id}:{epoch}"))
        product.epoch = max(product.epoch, target)

    @staticmethod
    def _churn_once(product: _Product, rng: random.Random) -> None:
        kept = []
        for offer in product.offers:
            if rng.random() < (P_VANISH_SOLD_OUT if offer.items_in_stock == 0 else P_VANISH):
                continue
            roll = rng.random()
            if roll < P_PRICE_CHANGE:
                price = max(1, round(offer.price * (1 + rng.uniform(-0.1, 0.1))))
                offer.price = price if price != offer.price else offer.price + 1
            elif roll < P_PRICE_CHANGE + P_STOCK_CHANGE:
                if offer.items_in_stock == 0:
                    offer.items_in_stock = rng.randint(1, 100)
                else:
                    stock = 0 if rng.random() < 0.2 else rng.randint(0, 100)
                    offer.items_in_stock = stock if stock != offer.items_in_stock else 0
            kept.append(offer)
        if not kept and product.offers and rng.random() < P_KEEP_LAST_OFFER:
            kept.append(product.offers[0])
        if rng.random() < (P_NEW_OFFER if kept else P_NEW_OFFER_WHEN_EMPTY):
            kept.append(_new_offer(rng))
        product.offers = kept

    # -- the offers API --------------------------------------------------------------------------

    def _handle(self, method: str, path: str, headers, body: bytes) -> _Response:
        if path.startswith("/_control/"):
            return self._handle_control(method, path, body)
        if not path.startswith("/api/v1/"):
            return _detail(404, "Not Found")
        parts = path.split("/")[3:]  # after "", "api", "v1"
        if parts == ["auth"]:
            route = "auth"
        elif parts == ["products", "register"]:
            route = "register"
        elif len(parts) == 3 and parts[0] == "products" and parts[2] == "offers":
            route = "offers"
        else:
            self._wait_latency()
            return _detail(404, "Not Found")
        if method != ("GET" if route == "offers" else "POST"):
            self._wait_latency()
            return _detail(405, "Method Not Allowed")

        product_id = _canonical_uuid(unquote(parts[1])) if route == "offers" else None
        with self._lock:
            if route == "register":
                self._register_requests += 1
            elif product_id is not None:
                self._offers_requests[product_id] = self._offers_requests.get(product_id, 0) + 1
        self._wait_latency()
        bearer = headers.get("Bearer")
        if route == "auth":
            with self._lock:
                auth_hostile = self._auth_hostile
            if auth_hostile is not None:
                with self._lock:
                    self._auth_requests += 1
                return _from_hostile(fake_hostile.auth_answer(auth_hostile, trap_url=self._trap.url, path=path))
            return self._auth(bearer)

        fault, malformed = self._draw_fault(route)
        if fault is not None:
            return fault
        hostile = self._draw_hostile(route, product_id if route == "offers" else _registered_id(body))
        if hostile in fake_hostile.TRANSPORT_KINDS or hostile in fake_hostile.SLOW_KINDS:
            return _from_hostile(fake_hostile.transport_answer(hostile, trap_url=self._trap.url, path=path))
        errors = [] if bearer is not None else [_missing(["header", "bearer"])]
        if route == "offers" and product_id is None:
            errors.append(
                {"loc": ["path", "product_id"], "msg": "value is not a valid uuid", "type": "type_error.uuid"}
            )
        registration = None
        if route == "register":
            registration, body_errors = self._parse_registration(body)
            errors += body_errors
        if errors:
            return _detail(422, errors)
        refusal = self._check_access(bearer)
        if refusal is not None:
            return refusal
        if route == "register":
            return self._register(*registration)
        return self._offers(product_id, malformed=malformed, hostile=hostile)

    def _draw_hostile(self, route: str, product_id: str | None) -> str | None:
        """The hostile kind this call gets, if any: the product's own, else one at hostile_rate."""
        with self._lock:
            kind = self._hostile_products.get(product_id or "")
            rate = self._faults.hostile_rate
        if kind is not None:
            transport = fake_hostile.TRANSPORT_KINDS + fake_hostile.SLOW_KINDS
            return kind if route == "offers" or kind in transport else None
        if rate and self._fault_rng.random() < rate:
            kinds = fake_hostile.HOSTILE_KINDS if route == "offers" else fake_hostile.TRANSPORT_KINDS
            return self._fault_rng.choice(kinds)
        return None

    def _wait_latency(self) -> None:
        with self._lock:
            latency, jitter = self._faults.latency_ms, self._faults.jitter_ms
        delay = max(0.0, latency + self._fault_rng.uniform(-jitter, jitter)) / 1000 if latency or jitter else 0.0
        if delay:
            time.sleep(delay)

    def _auth(self, bearer: str | None) -> _Response:
        with self._lock:
            self._auth_requests += 1
            if bearer is None:
                return _detail(422, [_missing(["header", "bearer"])])
            if not hmac.compare_digest(bearer.strip().encode("utf-8", "replace"), self._refresh_token):
                return _detail(401, "Invalid refresh token")
            now = time.time()
            if self._access_token is not None and now < self._access_expires:
                self._auth_refused += 1
                return _detail(400, ANOTHER_IS_VALID)
            # After a simulated expiry a token issued in the same second would be the same string
            # as the old one, which would then be valid again; a later `expires` keeps them apart.
            expires = max(int(now) + self.token_lifetime, self._last_expires + 1)
            self._access_token = encode_jwt({"token": self._refresh_token_text, "expires": expires}, self._jwt_secret)
            self._access_expires = float(expires)
            self._last_expires = expires
            return _json(201, {"access_token": self._access_token})

    def _check_access(self, bearer: str) -> _Response | None:
        given = bearer.strip().encode("utf-8", "replace")
        with self._lock:
            current, expires = self._access_token, self._access_expires
        if current is None or not hmac.compare_digest(given, current.encode()):
            return _detail(401, "Invalid access token")
        if time.time() >= expires:
            return _detail(401, "Access token expired")
        return None

    def _draw_fault(self, route: str) -> tuple[_Response | None, bool]:
        """The fault answer to give instead of the real one, if any, and whether to break a 200."""
        with self._lock:
            faults = self._faults
        rng = self._fault_rng
        if faults.rate_limit_rate and rng.random() < faults.rate_limit_rate:
            return _Response(429, b'{"detail":"Too Many Requests"}', headers=(("Retry-After", "1"),)), False
        if faults.error_rate and rng.random() < faults.error_rate:
            return _error_response(rng), False
        if faults.timeout_rate and rng.random() < faults.timeout_rate:
            self._stopping.wait(faults.timeout_seconds)  # stop() cuts it short
        malformed = route == "offers" and faults.malformed_rate > 0 and rng.random() < faults.malformed_rate
        return None, malformed

    @staticmethod
    def _parse_registration(body: bytes) -> tuple[tuple[str, str, str] | None, list[dict]]:
        if not body.strip():
            return None, [_missing(["body"])]
        try:
            data = json.loads(body)
        except ValueError as error:
            return None, [{"loc": ["body", 0], "msg": str(error), "type": "value_error.jsondecode"}]
        if not isinstance(data, dict):
            return None, [{"loc": ["body"], "msg": "value is not a valid dict", "type": "type_error.dict"}]
        errors = []
        for name in ("id", "name", "description"):
            if name not in data:
                errors.append(_missing(["body", name]))
            elif not isinstance(data[name], str):
                errors.append({"loc": ["body", name], "msg": "str type expected", "type": "type_error.str"})
        product_id = _canonical_uuid(data.get("id"))
        if isinstance(data.get("id"), str) and product_id is None:
            errors.append({"loc": ["body", "id"], "msg": "value is not a valid uuid", "type": "type_error.uuid"})
        if errors:
            return None, errors
        return (product_id, data["name"], data["description"]), []

    def _register(self, product_id: str, name: str, description: str) -> _Response:
        with self._lock:
            if not self._register_locked(product_id, name, description):
                return _detail(409, "Product already registered")
        return _json(201, {"id": product_id})

    def _offers(self, product_id: str, malformed: bool = False, hostile: str | None = None) -> _Response:
        with self._lock:
            product = self._products.get(product_id)
            if product is None and self.auto_register:
                self._register_locked(product_id, "", "")
                product = self._products[product_id]
            if product is None:
                return _detail(404, "Product does not exist")
            self._evolve_locked(product)
            offers = [offer.as_dict() for offer in product.offers]
            foreign = self._an_offer_of_another_product_locked(product_id) if hostile == "foreign-offer-id" else None
        if hostile is not None:
            return _from_hostile(fake_hostile.offers_answer(hostile, offers, foreign=foreign, rng=self._fault_rng))
        if malformed:
            return _malformed_response(offers, self._fault_rng)
        return _json(200, offers)

    def _an_offer_of_another_product_locked(self, product_id: str) -> dict | None:
        for other in self._products.values():
            if other.id != product_id and other.offers:
                return other.offers[0].as_dict()
        return None

    # -- the control API -------------------------------------------------------------------------

    def _handle_control(self, method: str, path: str, body: bytes) -> _Response:
        parts = path.split("/")[2:]  # after "", "_control"
        try:
            data = json.loads(body) if body.strip() else {}
        except ValueError:
            return _detail(422, "body must be JSON")
        if method == "GET" and parts == ["state"]:
            return _json(200, self.state())
        if method in ("PUT", "PATCH") and parts == ["faults"]:
            if not isinstance(data, dict):
                return _detail(422, "body must be a JSON object")
            try:
                return _json(200, self.set_faults(**data))
            except (TypeError, ValueError) as error:
                return _detail(422, str(error))
        if method == "PUT" and len(parts) == 3 and parts[0] == "products" and parts[2] == "hostile":
            try:
                self.set_hostile(unquote(parts[1]), data.get("kind") if isinstance(data, dict) else "?")
            except ValueError as error:
                return _detail(422, str(error))
            return _json(200, {"hostile": data.get("kind")})
        if method == "PUT" and parts == ["auth-hostile"]:
            try:
                self.set_auth_hostile(data.get("kind") if isinstance(data, dict) else "?")
            except ValueError as error:
                return _detail(422, str(error))
            return _json(200, {"auth_hostile": data.get("kind")})
        if method == "GET" and parts == ["trap"]:
            return _json(200, self.trap_stats())
        if method == "POST" and parts == ["outage"]:
            seconds = data.get("seconds") if isinstance(data, dict) else None
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 < seconds <= 600:
                return _detail(422, "seconds must be a number in (0, 600]")
            self.outage(float(seconds))
            return _json(200, {"down_for": seconds})
        if method == "POST" and parts == ["expire-token"]:
            return _json(200, {"expired": self.expire_token()})
        if method == "POST" and parts == ["churn"]:
            paused = data.get("paused") if isinstance(data, dict) else None
            if not isinstance(paused, bool):
                return _detail(422, 'body must be {"paused": true|false}')
            self.set_churn_paused(paused)
            return _json(200, self.state()["churn"])
        if method == "POST" and parts == ["churn", "step"]:
            epochs = data.get("epochs", 1) if isinstance(data, dict) else None
            if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
                return _detail(422, "epochs must be a positive integer")
            return _json(200, {"epoch": self.churn_step(epochs)})
        if method == "GET" and len(parts) in (2, 3) and parts[0] == "products" and parts[2:] in ([], ["offers"]):
            found = self.product(unquote(parts[1])) if len(parts) == 2 else self.product_offers(unquote(parts[1]))
            return _json(200, found) if found is not None else _detail(404, "Product does not exist")
        if method == "DELETE" and len(parts) == 2 and parts[0] == "products":
            forgotten = self.forget_product(unquote(parts[1]))
            return _json(200, {"forgotten": True}) if forgotten else _detail(404, "Product does not exist")
        if method == "GET" and parts == ["stats"]:
            return _json(200, self.stats())
        if method == "POST" and parts == ["stats", "reset"]:
            self.reset_stats()
            return _json(200, self.stats())
        return _detail(404, "Not Found")


def _registered_id(body: bytes) -> str | None:
    """The product id a register body names, if it names one (for per-product hostility)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return _canonical_uuid(data.get("id")) if isinstance(data, dict) else None


def _error_response(rng: random.Random) -> _Response:
    kind = rng.randrange(4)
    if kind == 0:
        return _detail(500, "Internal Server Error")
    if kind == 1:
        html = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"
        return _Response(502, html, "text/html")
    if kind == 2:
        return _detail(503, "Service Unavailable")
    html = b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>"
    return _Response(503, html, "text/html")


def _malformed_response(offers: list[dict], rng: random.Random) -> _Response:
    """A 200 whose body breaks the contract in one of several ways; the good offers come along."""
    offers = [dict(offer) for offer in offers] or [
        {"id": str(uuid.UUID(int=rng.getrandbits(128))), "price": 100, "items_in_stock": 1}
    ]
    victim = offers[rng.randrange(len(offers))]
    kind = rng.randrange(6)
    if kind == 0:
        return _Response(200, json.dumps(offers).encode()[:-7])  # cut short: not JSON
    if kind == 1:
        del victim["price"]
    elif kind == 2:
        victim["price"] = victim["price"] + 0.5
    elif kind == 3:
        victim["price"] = str(victim["price"])
    elif kind == 4:
        victim["id"] = f"offer-{rng.randrange(10**6)}"
    else:
        return _json(200, {"offers": offers})
    return _json(200, offers)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128  # the default 5 drops connections when a pool of 16+ opens at once
    fake: FakeOffersService

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the host's name up (socket.getfqdn), which can stall.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def track(self, connection: socket.socket, open_: bool) -> None:
        with self._connections_lock:
            (self._connections.add if open_ else self._connections.discard)(connection)

    def close_connections(self) -> None:
        """Unblock the threads still waiting on kept-alive connections."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so a pooled client reuses its connections
    server_version = "fake-offers/1"
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        self.timeout = self.server.fake.keepalive_timeout  # idle keep-alive connections close
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        self.server.track(self.connection, False)
        try:
            super().finish()
        except OSError:
            pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        body = self._read_body()
        if body is None:
            return
        fake = self.server.fake
        try:
            response = fake._handle(method, urlsplit(self.path).path, self.headers, body)
        except Exception:
            logger.exception("fake offers service: unexpected error on %s %s", method, self.path)
            response = _detail(500, "Internal Server Error")
        self._send(response)

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            self._send(_detail(411, "Length Required"))
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self.close_connection = True
            self._send(_detail(413 if length > 0 else 400, "Bad Content-Length"))
            return None
        return self.rfile.read(length) if length else b""

    def _send(self, response: _Response) -> None:
        if response.reset:
            self.close_connection = True
            fake_hostile.reset_connection(self.connection)
            return
        if response.drip:
            self.close_connection = True
            fake_hostile.drip(response.drip, self.wfile, self.server.fake._stopping)
            return
        # Status line, headers and body in one write: two small writes can stall on Nagle and
        # delayed ACKs, and per-request cost matters at hundreds of requests per second.
        lines = [
            f"HTTP/1.1 {response.status} {HTTPStatus(response.status).phrase}",
            f"Date: {formatdate(usegmt=True)}",
            f"Server: {self.server_version}",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {len(response.body)}",
        ]
        lines += [f"{name}: {value}" for name, value in response.headers]
        if self.close_connection:
            lines.append("Connection: close")
        try:
            self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + response.body)
        except OSError:  # the client gave up (e.g. its read timeout fired during a timeout fault)
            self.close_connection = True
            return
        self.log_request(response.status)

    def log_request(self, code="-", size="-") -> None:
        if logger.isEnabledFor(logging.DEBUG):  # skip the formatting on every request otherwise
            super().log_request(code, size)

    def log_message(self, format: str, *args) -> None:
        logger.debug("%s " + format, self.address_string(), *args)
