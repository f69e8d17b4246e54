"""Migration 0003 moves every product's sync state off the product without losing a value."""

import uuid
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from offers_sync.models import ProductSyncState

# The schema before the move: the sync fields on catalogue.Product.
OLD = [("catalogue", "0002_sync_claims"), ("offers_sync", "0002_singletons")]
T = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)
NEVER = datetime(1970, 1, 1, tzinfo=UTC)

FIELDS = (
    "registered_at",
    "registration_attempts",
    "next_registration_at",
    "sync_claimed_for",
    "sync_claimed_by",
    "offers_synced_at",
    "last_sync_error",
    "last_sync_error_at",
)
# One product each: its sync fields' values, in the order of FIELDS.
ROWS = {
    name: dict(zip(FIELDS, values, strict=True))
    for name, values in {
        "registered and synced": (T, 2, None, T.replace(microsecond=0), "host-a:123", T, "", None),
        "pending after failures": (None, 7, T, NEVER, "", None, "registration failed: 503 “unavailable” ünïcode", T),
        "failing sync": (T, 1, None, T, "w" * 100, T, "x" * 500, T),
    }.items()
}


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor


def _latest():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


@pytest.mark.django_db(transaction=True)
def test_every_value_moves_to_the_sync_state_and_back():
    latest = _latest()
    try:
        old_apps = _migrate(OLD).loader.project_state(OLD).apps
        OldProduct = old_apps.get_model("catalogue", "Product")
        OldOffer = old_apps.get_model("offers_sync", "Offer")
        ids = {}
        for name, fields in ROWS.items():
            product = OldProduct.objects.create(name=name, description=f"about {name}", **fields)
            ids[name] = product.id
        OldOffer.objects.create(id=uuid.uuid4(), product_id=ids["failing sync"], price=5, items_in_stock=1)

        _migrate(latest)

        for name, fields in ROWS.items():
            state = ProductSyncState.objects.select_related("product").get(product_id=ids[name])
            assert {field: getattr(state, field) for field in fields} == fields, name
            assert (state.product.name, state.product.description) == (name, f"about {name}")
        assert ProductSyncState.objects.count() == len(ROWS)

        # Going back puts the values on the product again.
        old_apps = _migrate(OLD).loader.project_state(OLD).apps
        OldProduct = old_apps.get_model("catalogue", "Product")
        for name, fields in ROWS.items():
            product = OldProduct.objects.get(pk=ids[name])
            assert {field: getattr(product, field) for field in fields} == fields, name
    finally:
        _migrate(latest)
