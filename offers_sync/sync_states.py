"""The sync cycle's writes of each product's sync state: its claim for a tick, and its outcome.

Registration's writes of the same rows are in offers_sync.registration.
"""

import uuid
from datetime import datetime

from django.db import connection, transaction

from aggregator.array_parameters import array_literal
from offers_sync.models import ProductSyncState


def products_claim_for_tick(*, tick: datetime, worker: str, limit: int) -> list[uuid.UUID]:
    """Claim up to `limit` registered products not yet claimed for `tick`; return those won.

    A claim is a conditional update (`sync_claimed_for < tick` → `tick`): of several workers only
    one can win a product for a tick. On PostgreSQL it is one statement, and SKIP LOCKED lets
    concurrent workers take different batches instead of queueing on the same rows.
    """
    if connection.vendor == "postgresql":
        return _claim_in_one_statement(tick=tick, worker=worker, limit=limit)
    with transaction.atomic():
        candidates = list(
            ProductSyncState.objects.filter(registered_at__isnull=False, sync_claimed_for__lt=tick)
            .order_by("sync_claimed_for")
            .values_list("product_id", flat=True)[:limit]
        )
        if not candidates:
            return []
        ProductSyncState.objects.filter(product_id__in=candidates, sync_claimed_for__lt=tick).update(
            sync_claimed_for=tick, sync_claimed_by=worker
        )
    return list(
        ProductSyncState.objects.filter(
            product_id__in=candidates, sync_claimed_for=tick, sync_claimed_by=worker
        ).values_list("product_id", flat=True)
    )


def _claim_in_one_statement(*, tick: datetime, worker: str, limit: int) -> list[uuid.UUID]:
    # UPDATE … RETURNING has no ORM spelling; this is the query the ORM path above runs as
    # three, in one round trip, which matters at hundreds of batches per cycle.
    table = connection.ops.quote_name(ProductSyncState._meta.db_table)
    sql = f"""
        UPDATE {table} SET sync_claimed_for = %s, sync_claimed_by = %s
        WHERE product_id IN (
            SELECT product_id FROM {table}
            WHERE registered_at IS NOT NULL AND sync_claimed_for < %s
            ORDER BY sync_claimed_for
            LIMIT %s
            FOR UPDATE SKIP LOCKED
        ) AND sync_claimed_for < %s
        RETURNING product_id
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [tick, worker, tick, limit, tick])
        return [row[0] for row in cursor.fetchall()]


def products_mark_synced(*, product_ids: list[uuid.UUID], now: datetime) -> None:
    """Stamp these products synced at `now`, clearing their last error."""
    if connection.vendor != "postgresql":
        ProductSyncState.objects.filter(product_id__in=product_ids).update(
            offers_synced_at=now, last_sync_error="", last_sync_error_at=None
        )
        return
    # The ORM's UPDATE with one placeholder per product, compiled again for every batch, cost the
    # main thread more than the statement costs the database.
    table = connection.ops.quote_name(ProductSyncState._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET offers_synced_at = %s, last_sync_error = '', last_sync_error_at = NULL "
            "WHERE product_id = ANY(%s::uuid[])",
            [now, array_literal(product_ids)],
        )


def products_mark_failed(*, product_ids: list[uuid.UUID], reason: str, now: datetime) -> None:
    """Note why these products were not synced at `now`; their cached offers stay as they were."""
    ProductSyncState.objects.filter(product_id__in=product_ids).update(last_sync_error=reason, last_sync_error_at=now)
