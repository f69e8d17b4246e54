"""HTTP client for the offers service (contract: shared/offers-service.md).

HTTP only: no ORM, no token storage. It returns plain dataclasses and sorts every failure into a
typed error, so that callers decide what a failure means without looking at status codes:

- `TemporaryError`: try again later (timeouts and deadlines, connection errors, 429, 5xx,
  malformed answers, redirects, answers over the size limit).
- `ProductNotRegistered`: the service does not know the product (404 on its offers).
- `AuthError` / `RefreshTokenRejected`: the access token was refused twice / the refresh token is
  wrong (a configuration error).
- `AccessTokenStillValid`: /auth refused a new token because another is still valid.
- `PermanentError`: any other 4xx; retrying the same request will not help.

Access tokens come from a `TokenSource` (offers_sync.tokens keeps them in the database); on a 401
the client tells the source the token was refused, takes a fresh one and retries the call once.

Every answer is untrusted input (shared/offers-service.md, last section). Calls go through an
`aggregator.outgoing_http.OutgoingSession`: redirects are never followed, so credentials reach
only the configured base URL, and each attempt (connect, headers, body) ends by its deadline
however slowly the service answers. A body is read up to a size limit and parsed by orjson
(which refuses nesting past 1,024 levels and integers past 64 bits instead of recursing or
growing without bound); offers come back only with values that fit the columns they are stored
in. Nothing a single answer holds can raise anything but an `OffersServiceError`.
"""

import base64
import binascii
import logging
import os
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
import requests

from aggregator import outgoing_http

logger = logging.getLogger(__name__)

# The largest body read from the service. A product's offers answer is ~70 bytes per offer, so
# this holds tens of thousands of offers; past it the answer is refused, not buffered.
MAX_ANSWER_BYTES = 4 * 1024 * 1024
# What the offers columns (BigIntegerField, signed 64 bits) can hold.
MAX_STORED_INT = 2**63 - 1
# An access token goes into a header: printable ASCII without spaces (a JWT is base64url and dots).
MAX_ACCESS_TOKEN_LENGTH = 8192
_TOKEN_CHARACTERS = frozenset(map(chr, range(0x21, 0x7F)))


@dataclass(frozen=True, slots=True)
class Answer:
    """One answer of the service, read whole (within the size limit) and disconnected from HTTP."""

    status: int
    headers: Mapping[str, str]  # case-insensitive, as HTTP's are
    body: bytes


@dataclass(frozen=True, slots=True)
class OfferData:
    id: uuid.UUID
    price: int
    items_in_stock: int


@dataclass(frozen=True, slots=True)
class IssuedAccessToken:
    token: str
    expires_at: datetime

    def __repr__(self) -> str:  # keep the secret out of logs and tracebacks
        return f"IssuedAccessToken(expires_at={self.expires_at.isoformat()})"


class OffersServiceError(Exception):
    """Base of every failure of a call to the offers service."""


class TemporaryError(OffersServiceError):
    """The call failed in a way that may pass: try again later."""


class MalformedResponse(TemporaryError):
    """The answer could not be understood; it says nothing about the product's offers."""


class PermanentError(OffersServiceError):
    """The service refused the request itself (4xx other than the ones below)."""


class ProductNotRegistered(OffersServiceError):
    """The service does not know this product: it has to be registered (again)."""


class AuthError(OffersServiceError):
    """The service refused our access token even after a refresh."""


class RefreshTokenRejected(AuthError):
    """/auth answered 401: OFFERS_REFRESH_TOKEN is wrong. A configuration error."""


class AccessTokenStillValid(OffersServiceError):
    """/auth answered 400: a new token can only be had once the previous one has expired."""


class Interrupted(TemporaryError):
    """A wait between attempts was cut short because the process is stopping."""


class AnswerTooLarge(MalformedResponse):
    """The body was longer than the client reads (`max_answer_bytes`)."""


class Redirected(TemporaryError):
    """The service answered a redirect. Never followed: credentials go only to the configured URL."""


class TokenSource(Protocol):
    def get(self) -> str:
        """A currently valid access token (may block briefly while it is refreshed)."""

    def invalidate(self, token: str) -> None:
        """The service answered 401 to this token: do not hand it out again."""


def wait_without_interruption(seconds: float) -> bool:
    time.sleep(seconds)
    return False


class AttemptObserver(Protocol):
    def __call__(self, *, path: str, outcome: str, seconds: float) -> None:
        """One HTTP attempt ended: `outcome` is its status code, "timeout" or "error"."""


class OffersServiceClient:
    """One pool of connections to the offers service, shared by the threads of a process.

    Each HTTP attempt ends within `attempt_seconds`, connecting, headers and body together
    (aggregator.outgoing_http); a call made inside an `outgoing_http.deadline(...)` block ends by
    that deadline too, its retries and the pauses between them included.
    `wait(seconds) -> bool` sleeps between attempts and returns True when the caller wants to
    stop (the worker passes its stop event's `wait`), so that shutdown is never stuck in a backoff.
    `on_attempt` is told of every attempt (the worker's metrics).
    """

    def __init__(
        self,
        base_url: str,
        *,
        pool_size: int = 16,
        connect_timeout: float = 3.05,
        read_timeout: float = 5.0,
        attempt_seconds: float = 10.0,
        max_attempts: int = 3,
        backoff_seconds: float = 0.25,
        max_retry_after_seconds: float = 10.0,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
        wait: Callable[[float], bool] = wait_without_interruption,
        on_attempt: AttemptObserver | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.max_retry_after_seconds = max_retry_after_seconds
        self.max_answer_bytes = max_answer_bytes
        self._wait = wait
        self._on_attempt = on_attempt
        self.session = outgoing_http.OutgoingSession(
            timeout=(connect_timeout, read_timeout), attempt_seconds=attempt_seconds, pool_size=pool_size
        )
        self.session.headers.update({"Accept": "application/json", "User-Agent": "aggregator-offers-sync/1"})
        # The environment's proxy and CA settings, read once for the one base URL: a session that
        # trusts the environment reads them (and .netrc) again on every call, most of its CPU.
        self.session.trust_env = False
        self.session.proxies = requests.utils.get_environ_proxies(self.base_url)
        self.session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True

    def close(self) -> None:
        self.session.close()

    # -- the contract's calls ----------------------------------------------------------------

    def issue_access_token(self, refresh_token: str) -> IssuedAccessToken:
        response = self._send("POST", "/api/v1/auth", headers={"Bearer": refresh_token})
        if response.status == 201:
            data = _json(response, "auth")
            token = data.get("access_token") if isinstance(data, dict) else None
            if not _is_header_safe_token(token):
                raise MalformedResponse("auth answer has no usable access_token")
            return IssuedAccessToken(token=token, expires_at=access_token_expiry(token))
        if response.status == 400:
            raise AccessTokenStillValid("the offers service says another access token is still valid")
        if response.status == 401:
            raise RefreshTokenRejected("the offers service rejected OFFERS_REFRESH_TOKEN (401 at /auth)")
        raise PermanentError(f"auth answered {response.status}")

    def register_product(self, tokens: TokenSource, *, product_id: uuid.UUID, name: str, description: str) -> None:
        """Register the product; an id the service already knows (409) counts as registered."""
        body = {"id": str(product_id), "name": name, "description": description}
        response = self._authorized(tokens, "POST", "/api/v1/products/register", json=body)
        if response.status in (200, 201, 409):
            return
        raise PermanentError(f"register answered {response.status}")

    def get_offers(self, tokens: TokenSource, product_id: uuid.UUID) -> list[OfferData]:
        response = self._authorized(tokens, "GET", f"/api/v1/products/{product_id}/offers")
        if response.status == 200:
            return parse_offers(_json(response, "offers"))
        if response.status == 404:
            raise ProductNotRegistered(f"product {product_id} is not registered with the offers service")
        raise PermanentError(f"offers answered {response.status}")

    # -- plumbing ------------------------------------------------------------------------------

    def _authorized(self, tokens: TokenSource, method: str, path: str, **kwargs) -> Answer:
        token = tokens.get()
        response = self._send(method, path, headers={"Bearer": token}, **kwargs)
        if response.status != 401:
            return response
        # Expired or unknown: get a fresh token and try once more.
        tokens.invalidate(token)
        response = self._send(method, path, headers={"Bearer": tokens.get()}, **kwargs)
        if response.status == 401:
            raise AuthError("the offers service refused a freshly issued access token")
        return response

    def _send(self, method: str, path: str, *, headers: dict, **kwargs) -> Answer:
        """Send with retries on temporary failures; returns any non-temporary answer, read whole."""
        for attempt in range(1, self.max_attempts + 1):
            delay = None
            try:
                response = self._attempt(method, path, headers=headers, **kwargs)
            except outgoing_http.BodyTooLarge:
                raise AnswerTooLarge(f"{method} {path}: answer over {self.max_answer_bytes} bytes") from None
            except requests.Timeout:
                failure = TemporaryError(f"{method} {path}: timed out")
            except requests.ConnectionError:
                failure = TemporaryError(f"{method} {path}: connection failed")
            except (requests.RequestException, OSError, ValueError) as exc:
                # Also a URL requests refuses, and what http.client raises on garbled headers.
                failure = TemporaryError(f"{method} {path}: {type(exc).__name__}")
            else:
                if response.status == 429:
                    failure = TemporaryError(f"{method} {path}: rate limited (429)")
                    delay = self._retry_after(response)
                elif response.status >= 500:
                    failure = TemporaryError(f"{method} {path}: server error ({response.status})")
                elif 300 <= response.status < 400:
                    raise Redirected(f"{method} {path}: answered a redirect ({response.status}), not followed")
                else:
                    return response
            if attempt == self.max_attempts:
                raise failure
            if delay is None:
                # Exponential backoff with full jitter, so many threads don't retry in step.
                delay = random.uniform(0, self.backoff_seconds * 2 ** (attempt - 1))
            left = outgoing_http.remaining()
            if left is not None and delay >= left:
                raise failure  # the caller's deadline would pass before the next attempt
            logger.debug("%s; attempt %d of %d, retrying in %.2fs", failure, attempt, self.max_attempts, delay)
            if self._wait(delay):
                raise Interrupted(f"{method} {path}: stopped while waiting to retry")
        raise AssertionError("unreachable")

    def _attempt(self, method: str, path: str, *, headers: dict, json: Any = None) -> Answer:
        """One HTTP attempt, its body read whole within the size limit and the attempt's deadline."""
        started = time.monotonic()
        outcome = "error"
        try:
            response, body = self.session.read_body(
                method, self.base_url + path, max_bytes=self.max_answer_bytes, headers=headers, json=json
            )
            outcome = str(response.status_code)
            return Answer(status=response.status_code, headers=response.headers, body=body)
        except requests.Timeout:
            outcome = "timeout"
            raise
        finally:
            if self._on_attempt is not None:
                self._on_attempt(path=path, outcome=outcome, seconds=time.monotonic() - started)

    def _retry_after(self, response: Answer) -> float:
        raw = response.headers.get("Retry-After", "")
        try:
            seconds = float(raw)
        except ValueError:
            seconds = self.backoff_seconds
        if seconds != seconds:  # NaN
            seconds = self.backoff_seconds
        return max(0.0, min(seconds, self.max_retry_after_seconds))


def parse_offers(data: Any) -> list[OfferData]:
    """Strictly: one bad item makes the whole answer invalid, never a half-applied one."""
    if not isinstance(data, list):
        raise MalformedResponse("offers answer is not a list")
    offers, seen = [], set()
    for position, item in enumerate(data):
        if not isinstance(item, dict):
            raise MalformedResponse(f"offer {position} is not an object")
        try:
            # Plain 128-bit ids: the service's are not RFC 4122, so no version/variant check.
            raw_id = item["id"]
            if not isinstance(raw_id, str):
                raise TypeError
            offer_id = uuid.UUID(raw_id)
        except (KeyError, TypeError, ValueError, AttributeError):
            raise MalformedResponse(f"offer {position} has no valid id") from None
        price, stock = item.get("price"), item.get("items_in_stock")
        if not _fits_column(price):
            raise MalformedResponse(f"offer {position} has no valid price (a whole number 0..2^63-1)")
        if not _fits_column(stock):
            raise MalformedResponse(f"offer {position} has no valid items_in_stock (a whole number 0..2^63-1)")
        if offer_id in seen:
            raise MalformedResponse(f"offer {position} repeats an id")
        seen.add(offer_id)
        offers.append(OfferData(id=offer_id, price=price, items_in_stock=stock))
    return offers


def access_token_expiry(token: str) -> datetime:
    """The `expires` of an access token's JWT payload, read without verifying the signature."""
    try:
        payload_part = token.split(".")[1]
        payload = orjson.loads(base64.urlsafe_b64decode(payload_part + "=" * (-len(payload_part) % 4)))
        expires = payload["expires"]  # TypeError when the payload is not an object
        if not isinstance(expires, (int, float)) or isinstance(expires, bool):
            raise TypeError
        return datetime.fromtimestamp(expires, UTC)
    except (IndexError, KeyError, TypeError, ValueError, binascii.Error, OverflowError, OSError):
        raise MalformedResponse("access token has no readable expiry") from None


def _fits_column(value: Any) -> bool:
    """A whole, non-negative number a BigIntegerField holds (bools are ints in Python: refused)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_STORED_INT


def _is_header_safe_token(token: Any) -> bool:
    return isinstance(token, str) and 0 < len(token) <= MAX_ACCESS_TOKEN_LENGTH and _TOKEN_CHARACTERS.issuperset(token)


def _json(response: Answer, what: str) -> Any:
    # orjson: strict UTF-8, nesting capped at 1,024 levels (an error, not a RecursionError), and
    # integers limited to 64 bits, so no body can make parsing recurse or compute for long.
    try:
        return orjson.loads(response.body)
    except orjson.JSONDecodeError:
        raise MalformedResponse(f"{what} answer is not valid JSON") from None
