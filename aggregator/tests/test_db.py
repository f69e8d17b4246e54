"""Database tuning: fast timestamps equal Django's, and health-check pings only after a pause."""

from datetime import UTC, datetime

import pytest
from django.db import DEFAULT_DB_ALIAS, DataError, connection, connections
from django.db.backends.postgresql.psycopg_any import register_tzloader

from aggregator.db import HEALTH_CHECK_AFTER_IDLE_SECONDS, note_connection_worked, skip_health_check_if_just_used

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
def test_the_connection_uses_it():
    connection.ensure_connection()
    loader = connection.connection.adapters.get_loader(1184, 0)  # timestamptz, text
    assert loader.__name__ == "UtcTimestamptzLoader"


def test_a_connection_that_just_answered_is_not_pinged_but_one_idle_for_a_while_is(monkeypatch):
    database = connections[DEFAULT_DB_ALIAS]  # the wrapper itself, not django.db.connection's proxy
    database.ensure_connection()
    database.aggregator_worked_at = None  # a connection nothing is known about
    pings = []
    monkeypatch.setattr(database, "health_check_enabled", True)
    monkeypatch.setattr(database, "is_usable", lambda: pings.append("SELECT 1") or True)

    def serve_a_request():
        database.health_check_done = False  # what Django does when a request starts
        skip_health_check_if_just_used(sender=None)
        with database.cursor() as cursor:
            cursor.execute("SELECT 1")
        note_connection_worked(sender=None)

    serve_a_request()  # checked
    assert len(pings) == 1
    serve_a_request()  # it answered a moment ago: trusted
    serve_a_request()
    assert len(pings) == 1
    database.aggregator_worked_at -= HEALTH_CHECK_AFTER_IDLE_SECONDS + 1  # a pause
    serve_a_request()
    assert len(pings) == 2


def test_a_connection_with_errors_is_not_trusted(monkeypatch):
    database = connections[DEFAULT_DB_ALIAS]  # the wrapper itself, not django.db.connection's proxy
    database.ensure_connection()
    database.aggregator_worked_at = None
    monkeypatch.setattr(database, "errors_occurred", True)
    note_connection_worked(sender=None)
    database.health_check_done = False
    skip_health_check_if_just_used(sender=None)
    assert database.health_check_done is False
