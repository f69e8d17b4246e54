"""Safe retries of writes: a request sent again with the same `Idempotency-Key` gets the first answer.

`respond_idempotently(request, perform)` wraps a view's work. Without the header it just runs it.
With one, per user and for 24 hours:

- the same key with the same request (method, path, JSON body) answers exactly what the first did
  (status, body, Location) and does nothing, with `Idempotent-Replayed: true`;
- the same key with another request is `422`;
- a request that did not succeed (any 4xx, e.g. a validation error, or a crash) keeps nothing, so
  the key can be used again, as Stripe does: only a success is remembered;
- two requests with one key at once do the work once: the record is inserted inside the request's
  transaction before the work, so the second request's insert waits on the unique constraint until
  the first commits (then it replays the answer) or rolls back (then it does the work itself).
"""

import hashlib
import json
import logging
import re
from collections.abc import Callable
from datetime import timedelta

import orjson
from django.db import IntegrityError, transaction
from django.db.models import Subquery
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response

from aggregator.renderers import FastJSONRenderer
from idempotency.models import IdempotencyRecord

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
KEY_LIFETIME = timedelta(hours=24)
KEY_MAX_LENGTH = 255
# Visible ASCII, no spaces: UUIDs, ULIDs, base64 and hex all fit; nothing a proxy might rewrite.
KEY_PATTERN = rf"^[\x21-\x7e]{{1,{KEY_MAX_LENGTH}}}$"
_KEY = re.compile(KEY_PATTERN)
# Headers of the first answer that a replay repeats.
_REPLAYED_HEADERS = ("Location",)
# Expired records deleted per request that stores one: pruning keeps pace with use, never a big delete.
PRUNE_BATCH = 100


class KeyReusedWithAnotherRequest(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = f"This {HEADER} was already used with a different request; use a new key."
    default_code = "idempotency_key_reused"


class KeyInUse(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = f"A request with this {HEADER} is still being processed; retry shortly."
    default_code = "idempotency_key_in_use"


def respond_idempotently(request, perform: Callable[[], Response]) -> Response:
    """Run `perform` (the view's work, which raises DRF exceptions for bad input) at most once per key."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return perform()
    if not _KEY.fullmatch(raw):  # $ alone would let a final newline through
        raise ValidationError(
            {HEADER: [f"Must be 1 to {KEY_MAX_LENGTH} visible ASCII characters (no spaces), e.g. a UUID."]}
        )
    fingerprint = _fingerprint(request)
    now = timezone.now()
    with transaction.atomic():
        stored = _claim(user=request.user, key=raw, fingerprint=fingerprint, now=now)
        if stored is not None:
            if stored.fingerprint != fingerprint:
                raise KeyReusedWithAnotherRequest()
            headers = {**stored.response_headers, "Idempotent-Replayed": "true"}
            return Response(orjson.loads(stored.response_body), status=stored.status_code, headers=headers)
        response = perform()
        if not status.is_success(response.status_code):
            IdempotencyRecord.objects.filter(user=request.user, key=raw).delete()
            return response
        IdempotencyRecord.objects.filter(user=request.user, key=raw).update(
            status_code=response.status_code,
            response_body=FastJSONRenderer().render(response.data).decode(),
            response_headers={name: response[name] for name in _REPLAYED_HEADERS if response.has_header(name)},
        )
    idempotency_records_prune(now=now)
    return response


def idempotency_records_prune(*, now, limit: int = PRUNE_BATCH) -> int:
    """Delete up to `limit` records past their 24 hours; return how many went."""
    expired = IdempotencyRecord.objects.filter(expires_at__lte=now).order_by("expires_at").values("pk")[:limit]
    deleted, _ = IdempotencyRecord.objects.filter(pk__in=Subquery(expired)).delete()
    return deleted


def _fingerprint(request) -> str:
    # The body as parsed, so that a retry's different spacing or key order is the same request.
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def _claim(*, user, key: str, fingerprint: str, now) -> IdempotencyRecord | None:
    """Insert this request's record (None: the work is ours to do) or return the one already stored."""
    for _ in range(3):
        try:
            with transaction.atomic():  # a savepoint: a clash must not spoil the outer transaction
                IdempotencyRecord.objects.create(
                    user=user, key=key, fingerprint=fingerprint, created_at=now, expires_at=now + KEY_LIFETIME
                )
            return None
        except IntegrityError:
            pass  # the key is taken; once the insert got past the constraint its holder had committed
        stored = IdempotencyRecord.objects.filter(user=user, key=key).first()
        if stored is None:
            continue  # its holder rolled back or it was pruned meanwhile: try again
        if stored.expires_at > now:
            return stored
        IdempotencyRecord.objects.filter(pk=stored.pk, expires_at__lte=now).delete()
    raise KeyInUse()
