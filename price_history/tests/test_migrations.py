"""The changes feed's index is built without blocking event inserts, and its migration round-trips."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from price_history.models import PriceEvent

INDEX = "priceevent_xact_idx"


def has_index(name: str) -> bool:
    with connection.cursor() as cursor:
        return name in connection.introspection.get_constraints(cursor, PriceEvent._meta.db_table)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="CONCURRENTLY is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_the_xact_index_is_built_concurrently_outside_a_transaction():
    # What an operator reviews before upgrading: a plain CREATE INDEX (in a transaction) would
    # block every event insert of the sync for as long as the build of a large table takes.
    out = StringIO()
    call_command("sqlmigrate", "price_history", "0003_changes_feed", stdout=out)
    sql = out.getvalue()
    assert f'CREATE INDEX CONCURRENTLY "{INDEX}"' in sql
    assert "BEGIN;" not in sql


@pytest.mark.django_db(transaction=True)
def test_the_changes_feed_migration_round_trip():
    assert has_index(INDEX)
    call_command("migrate", "price_history", "0002_seed_current_offers", verbosity=0)
    assert not has_index(INDEX)
    call_command("migrate", "price_history", verbosity=0)
    assert has_index(INDEX)
