"""Writes to the price history: recording what a reconcile saw change, and retention.

`offer_events_record_many` runs inside the reconciler's transaction (price_history.receivers
subscribes it to offers_sync's `offers_changed_batch`), so the events and the offer rows they
describe are committed together or not at all. The worker (and `manage.py prune_price_history`) call
`price_events_prune` to drop events past retention.
"""

import logging
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime

from django.conf import settings
from django.db import connection

from aggregator.array_parameters import array_literal
from aggregator.pagination import keyset_page, keyset_range
from aggregator.retention import retention_cutoff
from offers_sync.signals import OffersChanged
from price_history.models import PriceEvent

logger = logging.getLogger(__name__)

DEFAULT_PRUNE_BATCH_SIZE = 5000
_APPEARED = PriceEvent.Kind.APPEARED.value
_CHANGED = PriceEvent.Kind.CHANGED.value
_VANISHED = PriceEvent.Kind.VANISHED.value


def offer_events_record_many(changes: Iterable[OffersChanged]) -> int:
    """Record the events of several products' changes (as offers_sync reports them) in one insert.

    Each appeared, changed or vanished offer gives one event (a vanished offer's carries its last known
    price and stock). It opens no transaction of its own: the caller's makes it atomic with the offer
    rows. Returns how many were written.

    On PostgreSQL the rows go as arrays into one `INSERT … SELECT FROM unnest(…)`, whose cost
    hardly grows with the batch (the ORM's bulk insert prepares every value of every row).
    """
    if not settings.PRICE_HISTORY_ENABLED:
        return 0
    rows = [
        (offer.id, change.product_id, kind, offer.price, offer.items_in_stock, change.observed_at)
        for change in changes
        for kind, offers in (
            (_APPEARED, change.appeared),
            (_CHANGED, [c.after for c in change.changed]),
            (_VANISHED, change.vanished),
        )
        for offer in offers
    ]
    if not rows:
        return 0
    if connection.vendor != "postgresql":
        PriceEvent.objects.bulk_create(
            PriceEvent(
                offer_id=offer_id, product_id=product_id, kind=kind, price=price, items_in_stock=stock, observed_at=at
            )
            for offer_id, product_id, kind, price, stock, at in rows
        )
        return len(rows)
    table = connection.ops.quote_name(PriceEvent._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (offer_id, product_id, kind, price, items_in_stock, observed_at) "
            "SELECT * FROM unnest(%s::uuid[], %s::uuid[], %s::varchar[], %s::bigint[], %s::bigint[], "
            "%s::timestamptz[])",
            [array_literal(column) for column in zip(*rows, strict=True)],
        )
    return len(rows)


def price_history_cutoff(*, now: datetime, days: int | None = None) -> datetime | None:
    """Events observed before this are past retention; None when retention is off (0 days)."""
    return retention_cutoff(now=now, days=settings.PRICE_HISTORY_DAYS if days is None else days)


def price_events_prune(
    *,
    older_than: datetime,
    batch_size: int = DEFAULT_PRUNE_BATCH_SIZE,
    proceed: Callable[[], bool] | None = None,
) -> int:
    """Delete events observed before `older_than`, at most `batch_size` per statement; return how many went.

    An offer's last event before the cutoff is kept while it still describes a listed offer (it is
    not a vanishing): it is the offer's state at the cutoff, and without it an offer that has not
    changed for the whole retention period would drop out of every trend. Everything older is gone.

    The old events are walked in (observed_at, id) order one batch at a time, each batch a short
    statement of its own (the caller must not wrap this in a transaction), so a year of backlog never
    becomes one huge delete that holds locks and bloats the write-ahead log while the sync writes.

    `proceed()` is called after each batch (the worker beats its heartbeat there); when it returns
    False the prune stops, with what it deleted so far committed, and the next prune carries on.
    """
    expired = PriceEvent.objects.filter(observed_at__lt=older_than)
    old_events = expired.values_list("id", "product_id", "offer_id", "kind", "observed_at")
    deleted = 0
    after = None
    while True:
        rows = keyset_page(old_events, "observed_at", after=after, limit=batch_size)
        if not rows:
            break
        last_id, *_, last_at = rows[-1]
        after = (last_at, last_id)
        doomed = _superseded(rows, expired=expired, after=after)
        if doomed:
            count, _ = PriceEvent.objects.filter(id__in=doomed).delete()
            deleted += count
            logger.debug("pruned %d price events", count)
        if proceed is not None and not proceed():
            logger.info("pruning price history stopped early after %d events", deleted)
            return deleted
    if deleted:
        logger.info("pruned %d price events observed before %s", deleted, older_than.isoformat())
    return deleted


def _superseded(rows: list[tuple], *, expired, after: tuple) -> list[int]:
    """The ids in this ordered batch of old events that no longer describe any offer's state at the cutoff."""
    latest: dict[uuid.UUID, tuple[int, uuid.UUID, str]] = {}
    doomed = []
    for event_id, product_id, offer_id, kind, _ in rows:
        previous = latest.get(offer_id)
        if previous is not None:
            doomed.append(previous[0])  # a later old event of the same offer replaces it
        latest[offer_id] = (event_id, product_id, kind)
    # An offer's latest event in this batch goes too if it vanished, or if a later old event (beyond
    # this batch, before the cutoff) replaces it; that one is judged in its own batch.
    undecided = {offer_id: product_id for offer_id, (_, product_id, kind) in latest.items() if kind != _VANISHED}
    replaced = set()
    if undecided:
        replaced = set(
            keyset_range(expired, "observed_at", after=after)
            .filter(product_id__in=set(undecided.values()), offer_id__in=list(undecided))
            .values_list("offer_id", flat=True)
            .distinct()
        )
    for offer_id, (event_id, _, kind) in latest.items():
        if kind == _VANISHED or offer_id in replaced:
            doomed.append(event_id)
    return doomed
