"""The search index's migration applies and unapplies on SQLite and PostgreSQL alike."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from catalogue.models import Product
from catalogue.selectors import product_list

INDEX = "product_name_trgm_idx"
MIGRATION = "0004_product_name_trigram_index"


def has_index() -> bool:
    with connection.cursor() as cursor:
        return INDEX in connection.introspection.get_constraints(cursor, Product._meta.db_table)


@pytest.mark.django_db(transaction=True)
def test_trigram_index_migration_round_trip():
    migration = MigrationLoader(connection).get_migration("catalogue", MIGRATION)
    (before,) = [name for app, name in migration.dependencies if app == "catalogue"]
    on_postgresql = connection.vendor == "postgresql"
    assert has_index() is on_postgresql

    call_command("migrate", "catalogue", before, verbosity=0)
    assert not has_index()
    Product.objects.create(name="Kettle made before the index")

    call_command("migrate", "catalogue", verbosity=0)
    assert has_index() is on_postgresql
    assert [p.name for p in product_list(search="KETTLE")] == ["Kettle made before the index"]
