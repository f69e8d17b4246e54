"""Writing the offer changes of one or many products in three statements, whatever their number.

The reconciler works out what changed; this writes it in the caller's transaction: one DELETE of
every vanished offer, one UPDATE of every changed one, one INSERT of every new one, all stamped
with the same time. On PostgreSQL each is one plain SQL statement over arrays (`unnest`), so its
text is the same for any batch and the rows travel as a few array parameters; the ORM has no
spelling for an UPDATE from a list of rows (its `bulk_update` builds a CASE per column and row).
Other databases (SQLite in development and tests) get the ORM's equivalents.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import connection

from offers_sync.models import Offer

if TYPE_CHECKING:
    from offers_sync.reconcile import OfferChanges

_TABLE = Offer._meta.db_table


def write_offer_changes(changes_of: Mapping[uuid.UUID, OfferChanges], *, now: datetime) -> None:
    """Apply every product's changes; the caller holds the transaction and the products' locks."""
    vanished = [o.id for changes in changes_of.values() for o in changes.vanished]
    changed = [o for changes in changes_of.values() for o in changes.changed]
    appeared = [(product_id, o) for product_id, changes in changes_of.items() for o in changes.appeared]
    if connection.vendor == "postgresql":
        _write_postgresql(vanished, changed, appeared, now)
        return
    if vanished:
        Offer.objects.filter(id__in=vanished).delete()
    if changed:
        Offer.objects.bulk_update(
            [Offer(id=o.id, price=o.price, items_in_stock=o.items_in_stock, updated_at=now) for o in changed],
            ["price", "items_in_stock", "updated_at"],
        )
    if appeared:
        Offer.objects.bulk_create(
            Offer(id=o.id, product_id=pid, price=o.price, items_in_stock=o.items_in_stock, created_at=now)
            for pid, o in appeared
        )


def _write_postgresql(vanished, changed, appeared, now: datetime) -> None:
    table = connection.ops.quote_name(_TABLE)
    with connection.cursor() as cursor:
        if vanished:
            # The ids come from the cache read under the products' locks: they are these products'.
            cursor.execute(f"DELETE FROM {table} WHERE id = ANY(%s::uuid[])", [vanished])
        if changed:
            cursor.execute(
                f"UPDATE {table} AS o SET price = v.price, items_in_stock = v.stock, updated_at = %s "
                "FROM unnest(%s::uuid[], %s::bigint[], %s::bigint[]) AS v(id, price, stock) WHERE o.id = v.id",
                [now, [o.id for o in changed], [o.price for o in changed], [o.items_in_stock for o in changed]],
            )
        if appeared:
            cursor.execute(
                f"INSERT INTO {table} (id, product_id, price, items_in_stock, created_at, updated_at) "
                "SELECT v.id, v.product_id, v.price, v.stock, %s, %s "
                "FROM unnest(%s::uuid[], %s::uuid[], %s::bigint[], %s::bigint[]) AS v(id, product_id, price, stock)",
                [
                    now,
                    now,
                    [o.id for _, o in appeared],
                    [pid for pid, _ in appeared],
                    [o.price for _, o in appeared],
                    [o.items_in_stock for _, o in appeared],
                ],
            )
