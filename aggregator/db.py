"""PostgreSQL timestamps parsed in C rather than in Python, with the same results.

Django reads every `timestamptz` through its own loader class, a subclass of psycopg's pure-Python
one, a large share of reading a page of rows that carry several timestamps. The connection's time
zone is UTC (Django sets it so), so PostgreSQL sends
`2026-11-27 03:18:05.123456+00`, which `datetime.fromisoformat` (C) turns into the very value
Django's loader gives. Anything else (another offset, BC dates, infinity) goes to psycopg's own
loader and is then put in UTC, as Django's loader does.

The loader is written against psycopg's public loader API (`psycopg.adapt.Loader`, registered on
the connection's adapters when Django opens it, through the `connection_created` signal). Its one
tie to Django's internals is `timezone`: before every cursor, Django's PostgreSQL backend compares
the registered `timestamptz` loader's `timezone` with the connection's and registers its own loader
on the cursor when they differ. aggregator/tests/test_db.py fails if a Django upgrade changes that.
"""

from datetime import UTC, datetime

from django.db.backends.signals import connection_created
from psycopg import adapters
from psycopg.adapt import Loader
from psycopg.postgres import types
from psycopg.pq import Format

TIMESTAMPTZ_OID = types["timestamptz"].oid


class UtcTimestamptzLoader(Loader):
    """Loads `timestamptz` text as an aware datetime in `datetime.UTC`, as Django's loader does."""

    # Read by Django's cursor factory (see the module's docstring): the zone this loader gives.
    timezone = UTC

    _fallback = None

    def load(self, data):
        try:
            value = datetime.fromisoformat(bytes(data).decode())
        except ValueError:
            return self._load_otherwise(data)
        # fromisoformat gives "+00" the datetime.UTC singleton itself, the zone Django's loader sets.
        if value.tzinfo is UTC:
            return value
        return self._load_otherwise(data)

    def _load_otherwise(self, data):
        if self._fallback is None:
            # psycopg's default for the type, in the connection's zone (UTC): it raises on values a
            # datetime cannot hold, as Django's loader does. Built on the connection, not on the
            # context this loader was made for: a loader holding that would make a reference cycle.
            self._fallback = adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)(TIMESTAMPTZ_OID, self.connection)
        return self._fallback.load(data).astimezone(UTC)


def register_fast_timestamptz_loader(sender, connection, **kwargs) -> None:
    """`connection_created` receiver: use the fast loader on PostgreSQL connections whose zone is UTC."""
    if connection.vendor == "postgresql" and connection.timezone == UTC:
        connection.connection.adapters.register_loader(TIMESTAMPTZ_OID, UtcTimestamptzLoader)


def connect_signals() -> None:
    connection_created.connect(register_fast_timestamptz_loader, dispatch_uid="aggregator.db.fast_timestamptz")
