"""Request throttling: anonymous reads per client address, writes per user, failed token
authentications per client address; `429` with `Retry-After`.

Rates come from the environment (THROTTLE_ANON_READ_RATE, THROTTLE_WRITE_RATE,
THROTTLE_FAILED_AUTH_RATE; see docs/robustness.md) and are read from Django's settings on each
request, so tests can change them.
Counters live in the "throttle" cache (THROTTLE_CACHE_URL, process memory by default): with
several gunicorn workers each keeps its own counts, so a client may get up to workers × the rate.
Authenticated reads are not throttled: a consumer with a token is known and accountable. The
client address is `aggregator.client_address`'s: forwarded addresses count only through a
configured proxy.
"""

from django.conf import settings
from django.core.cache import caches
from rest_framework.permissions import SAFE_METHODS
from rest_framework.throttling import SimpleRateThrottle

from aggregator.client_address import client_address

THROTTLE_CACHE = "throttle"


class _SettingsRateThrottle(SimpleRateThrottle):
    """A rate throttle whose rate is `settings.THROTTLE_RATES[scope]` (None: not throttled)."""

    @property
    def cache(self):
        return caches[THROTTLE_CACHE]

    def get_rate(self) -> str | None:
        return settings.THROTTLE_RATES.get(self.scope)

    def get_ident(self, request) -> str:
        return client_address(request)


def _is_authenticated(request) -> bool:
    return bool(getattr(request.user, "is_authenticated", False))


class AnonReadThrottle(_SettingsRateThrottle):
    """Reads (GET, HEAD, OPTIONS) without credentials, counted per client address."""

    scope = "anon_read"

    def get_cache_key(self, request, view) -> str | None:
        if request.method not in SAFE_METHODS or _is_authenticated(request):
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class WriteThrottle(_SettingsRateThrottle):
    """Writes (POST, PUT, PATCH, DELETE), counted per user (they need a token to get this far)."""

    scope = "write"

    def get_cache_key(self, request, view) -> str | None:
        if request.method in SAFE_METHODS:
            return None
        ident = f"user-{request.user.pk}" if _is_authenticated(request) else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class FailedAuthenticationThrottle(_SettingsRateThrottle):
    """Failed token authentications, counted per client address (see aggregator.authentication).

    DRF's `allow_request` checks and counts in one step; here the check comes before the
    credentials are looked at and only a failure is counted, so its two halves are separate.
    """

    scope = "failed_auth"

    def get_cache_key(self, request, view=None) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def is_exhausted(self, request) -> bool:
        """Whether this address has used up its failures for the window (then `wait()` says how long)."""
        if self.rate is None:
            return False
        self.key = self.get_cache_key(request)
        self._load_history()
        return len(self.history) >= self.num_requests

    def record_failure(self) -> None:
        """Count one failure of the address `is_exhausted` was asked about."""
        if self.rate is None:
            return
        self._load_history()  # again: other requests from the address may have failed meanwhile
        self.throttle_success()  # DRF's name for "add now to the history and store it"

    def _load_history(self) -> None:
        self.now = self.timer()
        self.history = [moment for moment in self.cache.get(self.key, []) if moment > self.now - self.duration]
