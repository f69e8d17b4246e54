"""What caches may do with each answer (`Cache-Control`, `Vary`), and who may read it from a browser (CORS).

A public read view says so with one class attribute, `cache_public = True` (a function view with
the same attribute on the function). `CacheHeadersMiddleware` then gives its successful GET and
HEAD answers (200, and the 304s that stand for them) to a request *without* a token:

    Cache-Control: public, max-age=L, s-maxage=L, stale-while-revalidate=W, stale-if-error=E
    Vary: Authorization, Origin (and Accept where the view negotiates)

with L, W and E from the settings HTTP_CACHE_MAX_AGE, HTTP_CACHE_STALE_WHILE_REVALIDATE and
HTTP_CACHE_STALE_IF_ERROR. Everything else is never shared:

- the same reads asked *with* a token: `private, no-cache` (only the caller's own browser keeps
  it, and revalidates it each time), so a writer never gets a shared copy older than its write;
- every other answer (writes, errors, a token holder's webhooks, alerts and deliveries, /health,
  /metrics): `private, no-store`, unless the view set its own `Cache-Control` (the admin's
  `never_cache` says as much and more).

`Vary: Authorization` tells any standard shared cache that a request with a token must not get the
copy stored for requests without one; the nginx configuration in deploy/nginx/ also passes such
requests straight through.

CORS (django-cors-headers): any origin may make a request without a token (GET or HEAD, and their
preflights); origins in CORS_TOKEN_ORIGINS may also send `Authorization` and write. The library
decides per request through its `check_request_enabled` signal, answered by `cors_without_token`.
"""

import re

from django.conf import settings
from django.utils.cache import patch_cache_control, patch_vary_headers

READ_METHODS = frozenset({"GET", "HEAD"})
# Answers that stand for the resource itself: a 304 stands for the 200 the client has.
_CACHEABLE_STATUSES = frozenset({200, 203, 304})
# What a preflight's answer depends on, beside the Origin that django-cors-headers names itself.
_PREFLIGHT_VARY = ("Access-Control-Request-Method", "Access-Control-Request-Headers")


def is_public_view(request) -> bool:
    """Whether the view that answered `request` marked itself `cache_public`."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return False
    view = match.func
    view_class = getattr(view, "view_class", None)
    return bool(getattr(view, "cache_public", False) or getattr(view_class, "cache_public", False))


def public_cache_control() -> str:
    """The `Cache-Control` of a public read, from the settings."""
    lifetime = settings.HTTP_CACHE_MAX_AGE
    return (
        f"public, max-age={lifetime}, s-maxage={lifetime}, "
        f"stale-while-revalidate={settings.HTTP_CACHE_STALE_WHILE_REVALIDATE}, "
        f"stale-if-error={settings.HTTP_CACHE_STALE_IF_ERROR}"
    )


def apply_cache_headers(request, response) -> None:
    """Set `Cache-Control` and `Vary` on `response` by the rules in this module's docstring."""
    if request.method == "OPTIONS":
        if "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in request.META:
            patch_vary_headers(response, _PREFLIGHT_VARY)  # a preflight, cached by Access-Control-Max-Age
        return
    with_token = "HTTP_AUTHORIZATION" in request.META
    if request.method in READ_METHODS and response.status_code in _CACHEABLE_STATUSES and is_public_view(request):
        patch_vary_headers(response, ("Authorization",))
        # A public read's view sets no Cache-Control of its own: these replace nothing.
        response["Cache-Control"] = "private, no-cache" if with_token else public_cache_control()
        return
    if not response.has_header("Cache-Control"):
        response["Cache-Control"] = "private, no-store"
    elif with_token:
        patch_cache_control(response, private=True)


class CacheHeadersMiddleware:
    """Gives every answer its `Cache-Control` and `Vary` (see the module docstring).

    Listed before django-cors-headers' middleware, so that it sees the preflights that middleware
    answers by itself, and before anything that may answer an error.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        apply_cache_headers(request, response)
        return response


def cors_without_token(sender, request, **kwargs) -> bool:
    """django-cors-headers' `check_request_enabled` receiver: any origin, for requests without a token.

    True for a GET or HEAD without `Authorization` on the API's paths, and for the preflight of
    one (a browser sends a preflight for `If-None-Match`, say). Origins in CORS_TOKEN_ORIGINS are
    allowed everything by the library's own CORS_ALLOWED_ORIGINS.
    """
    if not re.match(settings.CORS_URLS_REGEX, request.path_info):
        return False
    if request.method == "OPTIONS":
        method = request.META.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD", "").upper()
        asked = request.META.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "").lower()
        return method in READ_METHODS and "authorization" not in {name.strip() for name in asked.split(",")}
    return request.method in READ_METHODS and "HTTP_AUTHORIZATION" not in request.META
