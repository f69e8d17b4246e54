"""HTTP client for the offers service (contract: shared/offers-service.md).

HTTP only: no ORM, no token storage. It returns plain dataclasses and sorts every failure into a
typed error, so that callers decide what a failure means without looking at status codes:

- `TemporaryError`: try again later (timeouts, connection errors, 429, 5xx, malformed answers,
  redirects, answers over the size limit).
- `ProductNotRegistered`: the service does not know the product (404 on its offers).
- `AuthError` / `RefreshTokenRejected`: the access token was refused twice / the refresh token is
  wrong (a configuration error).
- `AccessTokenStillValid`: /auth refused a new token because another is still valid.
- `PermanentError`: any other 4xx; retrying the same request will not help.

Access tokens come from a `TokenSource` (offers_sync.tokens keeps them in the database); on a 401
the client tells the source the token was refused, takes a fresh one and retries the call once.

Every answer is untrusted input (shared/offers-service.md, last section). Redirects are never
followed, so credentials reach only the configured base URL; a body is read up to a size and a
time limit and parsed by orjson (which refuses nesting past 1,024 levels and integers past 64
bits instead of recursing or growing without bound); offers come back only with values that fit
the columns they are stored in. Nothing a single answer holds can raise anything but an
`OffersServiceError`.
"""

import base64
import binascii
import http.client
import logging
import os
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import orjson
import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

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


class OffersServiceClient:
    """One pool of connections to the offers service, shared by the threads of a process.

    `wait(seconds) -> bool` sleeps between attempts and returns True when the caller wants to
    stop (the worker passes its stop event's `wait`), so that shutdown is never stuck in a backoff.
    """

    def __init__(
        self,
        base_url: str,
        *,
        pool_size: int = 16,
        connect_timeout: float = 3.05,
        read_timeout: float = 5.0,
        max_attempts: int = 3,
        backoff_seconds: float = 0.25,
        max_retry_after_seconds: float = 10.0,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
        wait: Callable[[float], bool] = wait_without_interruption,
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.max_retry_after_seconds = max_retry_after_seconds
        self.max_answer_bytes = max_answer_bytes
        # The read timeout bounds each socket read; this bounds the whole body, so a service
        # dripping a byte at a time cannot hold a fetch thread for ever.
        self.max_body_seconds = 2 * read_timeout
        self._wait = wait
        self._headers = {
            **requests.utils.default_headers(),
            "Accept": "application/json",
            "User-Agent": "aggregator-offers-sync/1",
        }
        # The environment's proxy and CA settings, read once (requests' Session reads them per call).
        self._proxies = requests.utils.get_environ_proxies(self.base_url)
        self._verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        # Every URL is base_url + a path the client builds (ASCII: constants and UUIDs), so requests'
        # preparation of the URL (parsing, IDNA, requoting, credentials in it) is done once, here.
        self._url_prefix, origin = self._prepared_base()
        # Calls go straight to requests' transport adapter (its urllib3 pool), not through a
        # Session: we use nothing of the Session layer (cookies, hooks, .netrc, merged settings,
        # redirect handling), which costs CPU on every call. The adapter never follows a redirect
        # (urllib3's redirect=False) and, with stream=True, leaves a redirect's body unread: a 3xx
        # comes back like any other answer, so credentials go only to base_url. Our own retry loop
        # (below) decides what to retry, so urllib3's is off.
        self._adapter = _ServiceAdapter(
            origin=origin, pool_connections=1, pool_maxsize=pool_size, max_retries=0, pool_block=False
        )
        # Prepared (validated) headers by the call's own headers (the token): a few at a time.
        self._prepared_headers: dict[tuple, CaseInsensitiveDict] = {}

    def close(self) -> None:
        self._adapter.close()

    def _prepared_base(self) -> tuple[str | None, str]:
        """base_url as requests prepares it, and its origin; (None, "") if requests refuses it.

        A URL requests refuses fails every call with a TemporaryError, through the full preparation.
        """
        probe = requests.PreparedRequest()
        try:
            probe.prepare(method="GET", url=self.base_url + "/", headers={})
        except (requests.RequestException, ValueError):
            return None, ""
        # Credentials in the URL become an Authorization header, as requests would send them.
        self._headers.update(probe.headers)
        parts = urlsplit(probe.url)
        return probe.url[:-1], f"{parts.scheme}://{parts.netloc}"

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
                response = self._request(method, path, headers=headers, **kwargs)
            except requests.Timeout:
                failure = TemporaryError(f"{method} {path}: timed out")
            except requests.ConnectionError:
                failure = TemporaryError(f"{method} {path}: connection failed")
            except (requests.RequestException, http.client.HTTPException, OSError, ValueError) as exc:
                # Also what urllib3 or http.client raise on a garbled status line or headers.
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
            logger.debug("%s; attempt %d of %d, retrying in %.2fs", failure, attempt, self.max_attempts, delay)
            if self._wait(delay):
                raise Interrupted(f"{method} {path}: stopped while waiting to retry")
        raise AssertionError("unreachable")

    def _request(self, method: str, path: str, *, headers: dict, **kwargs) -> Answer:
        """One request; the body is streamed and refused past the size or time limit."""
        request = self._prepare(method, path, headers=headers, **kwargs)
        response = self._adapter.send(
            request, stream=True, timeout=self.timeout, verify=self._verify, cert=None, proxies=self._proxies
        )
        too_large = AnswerTooLarge(f"{method} {path}: answer over {self.max_answer_bytes} bytes")
        with response:  # gives the connection back to the pool, or drops it if the body was not read
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > self.max_answer_bytes:
                raise too_large
            deadline = time.monotonic() + self.max_body_seconds
            body, size = [], 0
            for chunk in response.iter_content(chunk_size=64 * 1024):
                size += len(chunk)  # decoded size: a compressed bomb is stopped as it inflates
                if size > self.max_answer_bytes:
                    raise too_large
                if time.monotonic() > deadline:
                    raise requests.Timeout("body read too slowly")
                body.append(chunk)
            return Answer(status=response.status_code, headers=response.headers, body=b"".join(body))

    def _prepare(self, method: str, path: str, *, headers: dict, json: Any = None) -> requests.PreparedRequest:
        """The request requests' `PreparedRequest.prepare` would make, without redoing per call what
        does not change between calls: the base URL's preparation, and the headers' validation
        while the token is the same."""
        request = requests.PreparedRequest()
        if self._url_prefix is None:
            request.prepare(method=method, url=self.base_url + path, headers={**self._headers, **headers}, json=json)
            return request
        key = tuple(headers.items())
        prepared = self._prepared_headers.get(key)
        if prepared is None:
            request.prepare_headers({**self._headers, **headers})  # raises InvalidHeader on a bad value
            prepared = request.headers
            if len(self._prepared_headers) >= 4:
                self._prepared_headers.clear()  # old tokens
            self._prepared_headers[key] = prepared
        request.method = method
        request.url = self._url_prefix + path
        request.headers = prepared.copy()  # the body's preparation adds its own headers
        request.prepare_body(data=None, files=None, json=json)
        return request

    def _retry_after(self, response: Answer) -> float:
        raw = response.headers.get("Retry-After", "")
        try:
            seconds = float(raw)
        except ValueError:
            seconds = self.backoff_seconds
        if seconds != seconds:  # NaN
            seconds = self.backoff_seconds
        return max(0.0, min(seconds, self.max_retry_after_seconds))


class _ServiceAdapter(HTTPAdapter):
    """requests' transport adapter for one origin, without the per-call work that origin makes moot.

    Each call of requests' adapter looks its connection pool up again (parsing the URL twice and
    building the pool's key), applies the TLS settings to the pool again, and copies the answer's
    cookies into a jar. All of the client's calls go to one origin and nothing reads cookies, so
    the pool is looked up and set up once per TLS setting and answers carry no cookie jar. These
    are the methods requests documents for subclasses; a proxy or any other origin goes through
    requests' own code. `send` stays requests' (the tests' `responses` mocks it).
    """

    def __init__(self, *, origin: str, **kwargs):
        super().__init__(**kwargs)
        self._origin = origin + "/" if origin else ""
        self._pool = None
        self._pool_settings = None

    def _ours(self, request: requests.PreparedRequest, proxies) -> bool:
        return bool(self._origin) and not proxies and request.url.startswith(self._origin)

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        if not self._ours(request, proxies):
            return super().get_connection_with_tls_context(request, verify, proxies=proxies, cert=cert)
        if self._pool is None or self._pool_settings != (verify, cert):
            pool = super().get_connection_with_tls_context(request, verify, proxies=proxies, cert=cert)
            super().cert_verify(pool, request.url, verify, cert)
            self._pool, self._pool_settings = pool, (verify, cert)
        return self._pool

    def cert_verify(self, conn, url, verify, cert) -> None:
        if conn is not self._pool or self._pool_settings != (verify, cert):
            super().cert_verify(conn, url, verify, cert)

    def request_url(self, request, proxies) -> str:
        if not self._ours(request, proxies):
            return super().request_url(request, proxies)
        return request.url[len(self._origin) - 1 :]  # the path and query, as requests' path_url

    def build_response(self, req, resp) -> requests.Response:
        response = requests.Response()
        response.status_code = resp.status
        response.headers = CaseInsensitiveDict(resp.headers)
        response.raw = resp
        response.reason = resp.reason
        response.url = req.url
        response.request = req
        response.connection = self
        return response

    def close(self) -> None:
        super().close()
        self._pool = None


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
