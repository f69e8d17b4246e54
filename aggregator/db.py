"""Database tuning for the web process: timestamps parsed in C, and fewer health-check pings.

PostgreSQL timestamps parsed in C rather than in Python, with the same results.

Django reads every `timestamptz` through its own loader class, a subclass of psycopg's pure-Python
one (the C loader of psycopg's binary package cannot be subclassed): about 5 µs a value, which for
a page of 100 products with four timestamps each was a quarter of GET /products. The connection's
time zone is UTC (Django sets it so), so PostgreSQL sends `2026-11-27 03:18:05.123456+00`, which
`datetime.fromisoformat` (C) turns into the very value Django's loader gives. Anything else (another
offset, BC dates, infinity) goes to Django's loader, unchanged.
"""

import time
from datetime import UTC, datetime

from django.core.signals import request_finished, request_started
from django.db import connections
from django.db.backends.postgresql.psycopg_any import BaseTzLoader
from django.db.backends.signals import connection_created


class UtcTimestamptzLoader(BaseTzLoader):
    # Django's cursor factory compares this with the connection's zone before every cursor.
    timezone = UTC

    def load(self, data):
        try:
            value = datetime.fromisoformat(bytes(data).decode())
        except ValueError:
            return super().load(data)
        # fromisoformat gives "+00" the datetime.UTC singleton itself, the zone Django's loader sets.
        if value.tzinfo is UTC:
            return value
        return super().load(data)


def register_fast_timestamptz_loader(sender, connection, **kwargs) -> None:
    """`connection_created` receiver: use the fast loader on PostgreSQL connections whose zone is UTC."""
    if connection.vendor == "postgresql" and connection.timezone == UTC:
        connection.connection.adapters.register_loader("timestamptz", UtcTimestamptzLoader)


# Django's CONN_HEALTH_CHECKS pings the database (`SELECT 1`, a round trip) before the first query of
# every request that reuses a connection: for GET /products/{id}/offers, whose answer is one query,
# that doubled the round trips. A connection that answered a request less than this long ago is
# trusted without the ping; one idle longer is still checked, so a database restarted while the
# process was idle costs no failed request. (A restart inside the window costs at most one 503 per
# connection: the failed query marks it, and Django replaces it at the end of that request.)
HEALTH_CHECK_AFTER_IDLE_SECONDS = 1.0


def skip_health_check_if_just_used(sender, **kwargs) -> None:
    """`request_started` receiver, after Django's own (which re-arms the health check)."""
    now = time.monotonic()
    for connection in connections.all(initialized_only=True):
        worked_at = getattr(connection, "aggregator_worked_at", None)
        if (
            connection.connection is not None
            and worked_at is not None
            and now - worked_at < HEALTH_CHECK_AFTER_IDLE_SECONDS
        ):
            connection.health_check_done = True


def note_connection_worked(sender, **kwargs) -> None:
    """`request_finished` receiver, after Django's own (which drops a connection that failed)."""
    now = time.monotonic()
    for connection in connections.all(initialized_only=True):
        if connection.connection is not None and not connection.errors_occurred:
            connection.aggregator_worked_at = now


def connect_signals() -> None:
    connection_created.connect(register_fast_timestamptz_loader, dispatch_uid="aggregator.db.fast_timestamptz")
    request_started.connect(skip_health_check_if_just_used, dispatch_uid="aggregator.db.skip_health_check")
    request_finished.connect(note_connection_worked, dispatch_uid="aggregator.db.note_worked")
