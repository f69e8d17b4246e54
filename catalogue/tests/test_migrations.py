"""The search indexes' migrations apply and unapply on SQLite and PostgreSQL alike."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from catalogue.models import Product
from catalogue.search import forget_name_sample
from catalogue.selectors import product_list


def has_index(name: str) -> bool:
    with connection.cursor() as cursor:
        return name in connection.introspection.get_constraints(cursor, Product._meta.db_table)


def has_grams_function() -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regprocedure('catalogue_name_grams(text)') IS NOT NULL")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("migration_name", "index"),
    [
        ("0004_product_name_trigram_index", "product_name_trgm_idx"),
        ("0005_product_name_grams_index", "product_name_grams_idx"),
    ],
)
def test_search_index_migration_round_trip(migration_name, index):
    migration = MigrationLoader(connection).get_migration("catalogue", migration_name)
    (before,) = [name for app, name in migration.dependencies if app == "catalogue"]
    on_postgresql = connection.vendor == "postgresql"
    assert has_index(index) is on_postgresql

    call_command("migrate", "catalogue", before, verbosity=0)
    assert not has_index(index)
    assert not has_grams_function()
    Product.objects.create(name="Kettle made before the index, 7q")

    call_command("migrate", "catalogue", verbosity=0)
    forget_name_sample()
    assert has_index(index) is on_postgresql
    assert has_grams_function() is on_postgresql
    for search in ["KETTLE", "7Q", "k"]:
        assert [p.name for p in product_list(search=search)] == ["Kettle made before the index, 7q"]
