"""Request throttling: anonymous reads per client address, writes per user; `429` with `Retry-After`.

Rates come from the environment (THROTTLE_ANON_READ_RATE, THROTTLE_WRITE_RATE; see
docs/robustness.md) and are read from Django's settings on each request, so tests can change them.
Counters live in the "throttle" cache (THROTTLE_CACHE_URL, process memory by default): with
several gunicorn workers each keeps its own counts, so a client may get up to workers × the rate.
Authenticated reads are not throttled: a consumer with a token is known and accountable.
"""

from django.conf import settings
from django.core.cache import caches
from rest_framework.permissions import SAFE_METHODS
from rest_framework.throttling import SimpleRateThrottle

THROTTLE_CACHE = "throttle"


class _SettingsRateThrottle(SimpleRateThrottle):
    """A rate throttle whose rate is `settings.THROTTLE_RATES[scope]` (None: not throttled)."""

    @property
    def cache(self):
        return caches[THROTTLE_CACHE]

    def get_rate(self) -> str | None:
        return settings.THROTTLE_RATES.get(self.scope)

    def get_ident(self, request) -> str:
        # Trust X-Forwarded-For only as far as the configured proxies in front of us: otherwise a
        # client could name any address it likes and never be throttled.
        proxies = settings.THROTTLE_TRUSTED_PROXIES
        forwarded = request.headers.get("x-forwarded-for")
        if proxies == 0 or not forwarded:
            return request.META.get("REMOTE_ADDR", "")
        addresses = [address.strip() for address in forwarded.split(",")]
        return addresses[-min(proxies, len(addresses))]


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
