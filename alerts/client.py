"""Sending one webhook: HTTP only, no ORM (the worker records the outcome).

The host is resolved and checked (alerts.addresses) and the connection goes to that very address:
for http the URL names the address and `Host` the name; for https the TLS handshake still sends
and verifies the name. Redirects are never followed, proxies from the environment are not used,
and at most 64 KiB of the answer's body is read (only its status matters; reading a short body
lets the connection be reused). The attempt, connecting, headers and body together, ends within
`timeout` seconds however slowly the receiver answers (aggregator.outgoing_http), so a receiver
can fail only its own attempt. Whatever the receiver does, this returns an `Outcome` and never
raises.
"""

import ipaddress
import threading
import time
from dataclasses import dataclass

import requests

from aggregator.outgoing_http import DeadlineAdapter, OutgoingSession
from alerts.addresses import UnsafeUrl, parse_url, resolve

ERROR_MAX_LENGTH = 500
# An answer's body is read up to this much (so that the connection can be kept), never more.
BODY_READ_LIMIT = 64 * 1024
# Sessions kept per sending thread: one for http, one per host name for https.
SESSIONS_PER_THREAD = 64
# The longest attempt a caller may ask for (WEBHOOK_TIMEOUT's maximum).
MAX_TIMEOUT_SECONDS = 60


@dataclass(frozen=True, slots=True)
class Outcome:
    status_code: int | None
    error: str  # empty when delivered
    duration_ms: int

    @property
    def delivered(self) -> bool:
        return not self.error


class _PinnedTLSAdapter(DeadlineAdapter):
    """Connect to an address but speak TLS (SNI and certificate check) for the host name."""

    def __init__(self, hostname: str):
        self.hostname = hostname
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["server_hostname"] = self.hostname
        kwargs["assert_hostname"] = self.hostname
        super().init_poolmanager(*args, **kwargs)


_local = threading.local()


def _session(scheme: str, host: str) -> OutgoingSession:
    """This thread's session for `scheme` (and, for https, the host name its TLS speaks for).

    Kept so that connections to a receiver are reused; the pool is keyed by the address the URL
    names, which is the one checked for this attempt.
    """
    sessions = getattr(_local, "sessions", None)
    if sessions is None or len(sessions) > SESSIONS_PER_THREAD:
        for old in (sessions or {}).values():
            old.close()
        sessions = _local.sessions = {}
    key = "http" if scheme == "http" else f"https:{host}"
    session = sessions.get(key)
    if session is None:
        # Each send's own `timeout` bounds its attempt (`attempt()` below), not the session's default.
        session = OutgoingSession(
            attempt_seconds=MAX_TIMEOUT_SECONDS, adapter=_PinnedTLSAdapter(host) if scheme == "https" else None
        )
        session.trust_env = False  # no proxies or .netrc from the environment
        sessions[key] = session
    return session


def send(*, url: str, body: str, headers: dict[str, str], timeout: float, allow_private: bool) -> Outcome:
    """POST `body` to `url` once; 2xx within `timeout` seconds is delivered, anything else is not."""
    started = time.monotonic()

    def outcome(status_code: int | None, error: str) -> Outcome:
        return Outcome(status_code, error[:ERROR_MAX_LENGTH], int((time.monotonic() - started) * 1000))

    try:
        target = parse_url(url)
        address = resolve(target, allow_private=allow_private)
    except UnsafeUrl as exc:
        return outcome(None, f"refused: {exc}")
    host_in_url = f"[{address}]" if ipaddress.ip_address(address).version == 6 else address
    host_name = f"[{target.host}]" if ":" in target.host else target.host  # urlsplit drops an IPv6 host's brackets
    port = "" if target.port == (443 if target.scheme == "https" else 80) else f":{target.port}"
    netloc, host_header = host_in_url + port, host_name + port
    session = _session(target.scheme, target.host)
    remaining = max(0.1, timeout - (time.monotonic() - started))
    try:
        with (
            session.attempt(remaining),
            session.post(
                f"{target.scheme}://{netloc}{target.path}",
                data=body.encode(),
                headers={**headers, "Host": host_header, "User-Agent": "aggregator-webhooks/1"},
                timeout=(remaining, remaining),
                stream=True,
            ) as response,
        ):
            status = response.status_code
            read = 0
            for chunk in response.iter_content(8192):
                read += len(chunk)
                if read > BODY_READ_LIMIT:
                    break  # leaving the block closes the connection instead of reading on
    except requests.Timeout:  # DeadlineExceeded among them: the whole attempt took too long
        return outcome(None, f"timed out after {timeout:g} s")
    except requests.ConnectionError as exc:
        return outcome(None, f"connection failed: {_reason(exc)}")
    except (requests.RequestException, ValueError, OSError) as exc:
        return outcome(None, f"request failed: {type(exc).__name__}")
    if time.monotonic() - started > timeout:
        return outcome(status, f"answered after more than {timeout:g} s")
    if 200 <= status < 300:
        return outcome(status, "")
    if 300 <= status < 400:
        return outcome(status, f"HTTP {status}: redirects are not followed")
    return outcome(status, f"HTTP {status}")


def _reason(exc: Exception) -> str:
    """A short cause without the URL (which names our pinned address) or a traceback."""
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "timed out", "reset by peer", "SSL", "EOF"):
        if marker.lower() in text.lower():
            return marker.lower()
    return type(exc).__name__
