"""Fast timestamps: the values equal Django's, and Django's cursors really use the fast loader."""

import gc
from datetime import UTC, datetime

import pytest
from django.db import DataError, connection
from django.db.backends.postgresql.psycopg_any import register_tzloader
from psycopg.pq import Format

from aggregator.db import TIMESTAMPTZ_OID, UtcTimestamptzLoader

pytestmark = pytest.mark.django_db
postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only")

TEXTS = [
    "2026-11-27 03:18:05.123456+00",
    "2026-11-27 03:18:05+00",  # no fraction
    "2026-11-27 03:18:05.5+00",
    "2026-11-27 04:18:05.000001+01",  # another offset: converted
    "0001-01-01 00:00:00+00",
    "9999-12-31 23:59:59.999999+00",
]


def read(texts, *, django_loader: bool):
    with connection.cursor() as cursor:
        if django_loader:
            register_tzloader(UTC, cursor.cursor)  # Django's own, on this cursor only
        cursor.execute("SELECT " + ", ".join(["%s::timestamptz"] * len(texts)), texts)
        return cursor.fetchone()


@postgres_only
def test_values_equal_djangos_loaders():
    fast = read(TEXTS, django_loader=False)
    assert fast == read(TEXTS, django_loader=True)
    assert all(value.tzinfo is UTC for value in fast)
    assert fast[0] == datetime(2026, 11, 27, 3, 18, 5, 123456, tzinfo=UTC)


@postgres_only
@pytest.mark.parametrize("text", ["infinity", "0044-03-15 00:00:00+00 BC"])
def test_values_python_cannot_hold_fail_as_before(text):
    for django_loader in (False, True):
        with pytest.raises(DataError):
            read([text], django_loader=django_loader)


@postgres_only
def test_djangos_cursors_use_it():
    # Fails when a Django upgrade stops honouring the loader's `timezone` (aggregator.db's docstring):
    # its cursors would then bring back Django's slow loader, silently.
    with connection.cursor() as cursor:
        assert cursor.cursor.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT) is UtcTimestamptzLoader


@postgres_only
def test_reading_timestamps_leaves_no_garbage_for_the_collector():
    # A loader that keeps its context alive makes every cursor a reference cycle: freed only by
    # the garbage collector, which then runs (and holds the rows' memory) far more often.
    def read_some():
        for _ in range(20):
            read(TEXTS[:1], django_loader=False)

    read_some()  # first use: caches, imports
    gc.collect()
    gc.disable()
    try:
        read_some()
        assert gc.collect() == 0
    finally:
        gc.enable()
