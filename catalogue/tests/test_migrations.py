"""The search index's migrations apply and unapply on SQLite and PostgreSQL alike."""

import pytest
from django.core.management import call_command
from django.db import connection

from catalogue.models import Product
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
def test_trigram_index_migration_round_trip():
    on_postgresql = connection.vendor == "postgresql"
    assert has_index("product_name_trgm_idx") is on_postgresql

    call_command("migrate", "catalogue", "0003_remove_sync_state", verbosity=0)
    assert not has_index("product_name_trgm_idx")
    Product.objects.create(name="Kettle made before the index")

    call_command("migrate", "catalogue", verbosity=0)
    assert has_index("product_name_trgm_idx") is on_postgresql
    assert [p.name for p in product_list(search="KETTLE")] == ["Kettle made before the index"]


@pytest.mark.django_db(transaction=True)
def test_the_short_parts_index_and_its_function_are_dropped_and_come_back_when_unapplied():
    on_postgresql = connection.vendor == "postgresql"
    assert not has_index("product_name_grams_idx")
    assert not has_grams_function()

    call_command("migrate", "catalogue", "0005_product_name_grams_index", verbosity=0)
    assert has_index("product_name_grams_idx") is on_postgresql
    assert has_grams_function() is on_postgresql

    call_command("migrate", "catalogue", verbosity=0)
    assert not has_index("product_name_grams_idx")
    assert not has_grams_function()
    Product.objects.create(name="Kettle, 7q")
    assert [p.name for p in product_list(search="7Q")] == ["Kettle, 7q"]


@pytest.mark.django_db(transaction=True)
def test_upgrading_keeps_every_existing_token_able_to_write():
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    call_command("migrate", "catalogue", "0006_drop_product_name_grams_index", verbosity=0)
    users = get_user_model().objects
    consumer = users.create_user("consumer")
    token = Token.objects.create(user=consumer)
    users.create_user("no-token")

    call_command("migrate", "catalogue", verbosity=0)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    created = client.post("/products", {"name": "Kettle"}, format="json")
    assert created.status_code == 201
    product_id = created.json()["id"]
    assert client.patch(f"/products/{product_id}", {"name": "Pot"}, format="json").status_code == 200
    assert client.delete(f"/products/{product_id}").status_code == 204
    assert not users.get(username="no-token").has_perm("catalogue.add_product")
