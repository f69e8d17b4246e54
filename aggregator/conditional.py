"""Conditional GETs: an `ETag` on each answer and `304 Not Modified` for a client that has it already.

The tag is a hash of the rendered body, so it changes exactly when the body would: a sync that
finds a product's offers unchanged leaves its offers' tag alone, and two filters that select the
same offers share a tag. `If-None-Match` follows RFC 9110 §13.1.2: a list of tags or `*`, compared
weakly (`W/"x"` matches `"x"`); a tag that cannot be parsed matches nothing. Only `If-None-Match`
is evaluated: the other preconditions are for writes, and a read answers as if they were absent.
"""

import hashlib

from django.http import HttpResponseNotModified
from django.utils.http import parse_etags
from rest_framework import status

# What a 304 repeats of the 200 it stands for (RFC 9110 §15.4.5, and the page's next link).
_KEPT_ON_304 = ("ETag", "Cache-Control", "Content-Location", "Date", "Expires", "Vary", "Link")


def body_etag(content: bytes) -> str:
    """A strong tag for this exact body."""
    return f'"{hashlib.blake2b(content, digest_size=16).hexdigest()}"'


def none_match(if_none_match: str, etag: str) -> bool:
    """Whether `etag` is among the tags of an If-None-Match value (weak comparison; `*` is any)."""
    tags = parse_etags(if_none_match)
    return "*" in tags or any(tag.removeprefix("W/") == etag for tag in tags)


class ConditionalGetMixin:
    """For APIViews: GET and HEAD answers of 200 get an ETag and become 304s when the client has them."""

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if request.method not in ("GET", "HEAD") or response.status_code != status.HTTP_200_OK:
            return response
        response.render()
        etag = body_etag(response.content)
        response["ETag"] = etag
        # From META: `request.headers` builds a mapping of every header on first use.
        if_none_match = request.META.get("HTTP_IF_NONE_MATCH")
        if not if_none_match or not none_match(if_none_match, etag):
            return response
        not_modified = HttpResponseNotModified()
        for name in _KEPT_ON_304:
            if response.has_header(name):
                not_modified[name] = response[name]
        # A 304 may carry Content-Length only as the size of the 200 it stands for (RFC 9110 §8.6);
        # left unset, Django's CommonMiddleware would write 0.
        not_modified["Content-Length"] = str(len(response.content))
        return not_modified
