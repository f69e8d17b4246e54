"""Correlation ids in log lines: a request's id in the web, a cycle's id in the sync worker.

Each web request gets an id: the client's `X-Request-ID` when it is a sane token (1–64 characters
of letters, digits, `.`, `_`, `-`), otherwise a new random one. It is sent back as `X-Request-ID`
and added to every log line written while the request is handled, including Django's own
`django.request` line for a 4xx/5xx answer, which Django writes after the middleware has returned:
so the id is cleared when the response is closed (`request_finished`), not when the middleware
returns. The sync worker binds the cycle's id for the whole process while a cycle runs, so the
lines of its fetch threads carry it too.

Why not django-guid or django-log-request-id: django-guid keeps only UUIDs (any other incoming id,
such as a proxy's `req-…` token, is replaced) and writes an INFO line for every request and a
WARNING for every unusable id, which a client could use to flood the log; django-log-request-id
keeps whatever the client sends, of any length and characters, in a thread-local. What is needed
here is a contextvar, one validation rule and a logging filter: the few lines below.
"""

import logging
import re
import secrets
from contextvars import ContextVar

from django.core.signals import request_finished

_SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

# (field name, id) of what is being handled in this context: ("request_id", …) in the web.
_current: ContextVar[tuple[str, str] | None] = ContextVar("log_context", default=None)
# The worker's cycle in hand, seen by every thread of the process (the fetch pool's threads do not
# inherit contextvars). One cycle runs at a time per worker process.
_process_wide: tuple[str, str] | None = None


def new_id() -> str:
    """32 random hex digits: the shape of a UUID's hex, without building a UUID."""
    return secrets.token_hex(16)


def bind_cycle_id(cycle_id: str | None) -> None:
    """Tag every log line of this process with `cycle_id` (None: stop tagging)."""
    global _process_wide
    _process_wide = ("cycle_id", cycle_id) if cycle_id else None


class RequestIdMiddleware:
    """Give each request an id, in the log context and in the response's `X-Request-ID`."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request.META.get("HTTP_X_REQUEST_ID")
        if not (request_id and _SANE_ID.fullmatch(request_id)):
            request_id = new_id()  # none sent, or not a sane token
        _current.set(("request_id", request_id))  # cleared by _clear_request_id, see the module doc
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


def _clear_request_id(**kwargs) -> None:
    _current.set(None)


request_finished.connect(_clear_request_id, dispatch_uid="aggregator.log_context.clear")


class LogContextFilter(logging.Filter):
    """Adds the id in hand to each record: as its own field (`request_id` or `cycle_id`, which the
    JSON formatter writes as a key) and as `log_context`, " request_id=…" or "", for text formats."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _current.get() or _process_wide
        if context is None:
            record.log_context = ""
        else:
            key, value = context
            setattr(record, key, value)
            record.log_context = f" {key}={value}"
        return True
