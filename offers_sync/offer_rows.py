"""The cached offer rows of many products, read and written in a few statements whatever their number.

The reconciler decides what to write; this module holds the statements, for the caller's
transaction. On PostgreSQL each is one plain SQL statement whose rows travel as array parameters
(`= ANY(%s)`, `unnest`), each array passed as one string (`aggregator.array_parameters.array_literal`), so
its text is the same for any batch and it costs little to build: the ORM spells `id IN (…)` with
one placeholder per value, and has no UPDATE from a list of rows (its `bulk_update` builds a CASE
per column and row). Other databases (SQLite in development and
tests) get the ORM's equivalents.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import connection

from aggregator.array_parameters import array_literal
from catalogue.models import Product
from offers_sync.models import Offer

if TYPE_CHECKING:
    from offers_sync.reconcile import OfferChanges

# One product's offers as stored: (price, items_in_stock), keyed by offer id.
CachedOffers = dict[uuid.UUID, tuple[int, int]]


def _postgresql() -> bool:
    return connection.vendor == "postgresql"


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def cached_offers_for(product_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, CachedOffers]:
    """The cached offers of many products, in one query."""
    cached: dict[uuid.UUID, CachedOffers] = defaultdict(dict)
    if _postgresql():
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT product_id, id, price, items_in_stock FROM {_table(Offer)} WHERE product_id = ANY(%s::uuid[])",
                [array_literal(product_ids)],
            )
            rows = cursor.fetchall()
    else:
        rows = Offer.objects.filter(product_id__in=list(product_ids)).values_list(
            "product_id", "id", "price", "items_in_stock"
        )
    for product_id, offer_id, price, stock in rows:
        cached[product_id][offer_id] = (price, stock)
    return cached


def lock_and_read(product_ids: Collection[uuid.UUID]) -> tuple[set[uuid.UUID], dict[uuid.UUID, CachedOffers]]:
    """Lock the products' rows for this transaction, in id order, and read their cached offers.

    Returns the products that still exist and their offers as they are under the locks. The id
    order means two workers locking overlapping sets cannot deadlock. On PostgreSQL the lock and
    the read are one statement.
    """
    if not _postgresql():
        rows = Product.objects.select_for_update().filter(pk__in=list(product_ids)).order_by("pk")
        locked = set(rows.values_list("pk", flat=True))
        return locked, cached_offers_for(locked)
    locked, cached = set(), defaultdict(dict)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT p.id, o.id, o.price, o.items_in_stock FROM {_table(Product)} AS p "
            f"LEFT JOIN {_table(Offer)} AS o ON o.product_id = p.id "
            "WHERE p.id = ANY(%s::uuid[]) ORDER BY p.id FOR UPDATE OF p",
            [array_literal(product_ids)],
        )
        for product_id, offer_id, price, stock in cursor.fetchall():
            locked.add(product_id)
            if offer_id is not None:
                cached[product_id][offer_id] = (price, stock)
    return locked, cached


def existing_offer_ids(offer_ids: Collection[uuid.UUID]) -> list[uuid.UUID]:
    """Which of these offer ids are in the cache (of any product)."""
    if not offer_ids:
        return []
    if not _postgresql():
        return list(Offer.objects.filter(id__in=list(offer_ids)).values_list("id", flat=True))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {_table(Offer)} WHERE id = ANY(%s::uuid[])", [array_literal(offer_ids)])
        return [row[0] for row in cursor.fetchall()]


def write_offer_changes(changes_of: Mapping[uuid.UUID, OfferChanges], *, now: datetime) -> None:
    """Apply every product's changes; the caller holds the transaction and the products' locks."""
    vanished = [o.id for changes in changes_of.values() for o in changes.vanished]
    changed = [o for changes in changes_of.values() for o in changes.changed]
    appeared = [(product_id, o) for product_id, changes in changes_of.items() for o in changes.appeared]
    if _postgresql():
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
    # One statement, one round trip: the delete and the update are data-modifying CTEs of the
    # insert. They touch disjoint rows (an offer vanishes, changes or appears, never two of these),
    # and the vanished ids come from the cache read under the products' locks, so they are these
    # products'; an appeared id held by any product was refused before (existing_offer_ids).
    table = _table(Offer)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH vanished AS (DELETE FROM {table} WHERE id = ANY(%s::uuid[])), "
            f"changed AS (UPDATE {table} AS o SET price = v.price, items_in_stock = v.stock, updated_at = %s "
            "FROM unnest(%s::uuid[], %s::bigint[], %s::bigint[]) AS v(id, price, stock) WHERE o.id = v.id) "
            f"INSERT INTO {table} (id, product_id, price, items_in_stock, created_at, updated_at) "
            "SELECT v.id, v.product_id, v.price, v.stock, %s, %s "
            "FROM unnest(%s::uuid[], %s::uuid[], %s::bigint[], %s::bigint[]) AS v(id, product_id, price, stock)",
            [
                array_literal(vanished),
                now,
                array_literal([o.id for o in changed]),
                array_literal([o.price for o in changed]),
                array_literal([o.items_in_stock for o in changed]),
                now,
                now,
                array_literal([o.id for _, o in appeared]),
                array_literal([pid for pid, _ in appeared]),
                array_literal([o.price for _, o in appeared]),
                array_literal([o.items_in_stock for _, o in appeared]),
            ],
        )
