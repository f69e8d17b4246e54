"""Bringing the local offers of products in line with what the offers service reported.

No HTTP here: the caller hands in answers already fetched. The changed products of a batch are
written in one short transaction of a few statements (offers_sync.offer_rows), so each product's
cached offers are always either the old answer or the new one; an answer identical to the cache
writes nothing at all. Inside that transaction the changes are published to the subscribers of
`offers_sync.signals.offers_changed_batch`.

An offer id belongs to one product: the one whose cache holds it (docs/sync.md, "Offer
identity"). An answer that lists an id another product holds is refused as malformed. When
anything else fails in a batch's transaction (a constraint, a value out of range, a subscriber
raising), the batch is rolled back and written again one product per transaction, so only the
product at fault keeps its old cache and gets the reason; the other products go on.
"""

import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import DatabaseError, InterfaceError, OperationalError, transaction
from django.utils import timezone

from offers_sync.client import OfferData
from offers_sync.offer_rows import (
    CachedOffers,
    cached_offers_for,
    existing_offer_ids,
    lock_and_read,
    write_offer_changes,
)
from offers_sync.signals import OfferChange, OffersChanged, SubscriberFailed, offers_changed_batch

logger = logging.getLogger(__name__)


class AnswerRefused(Exception):
    """This answer cannot be stored as it is; the product's cache stays as it was."""


def _foreign_ids_refusal(count: int) -> AnswerRefused:
    return AnswerRefused(f"malformed answer: {count} offer id(s) already belong to another product")


@dataclass(slots=True)
class OfferChanges:
    """What one answer changes in one product's cache."""

    appeared: list[OfferData] = field(default_factory=list)
    changed: list[OfferData] = field(default_factory=list)
    vanished: list[OfferData] = field(default_factory=list)  # with their last known price and stock
    # The cached state of each changed offer, by id, and the whole answer: for the subscribers.
    previous: dict[uuid.UUID, OfferData] = field(default_factory=dict)
    reported: Sequence[OfferData] = ()

    def __bool__(self) -> bool:
        return bool(self.appeared or self.changed or self.vanished)


@dataclass(slots=True)
class ReconcileCounts:
    added: int = 0
    changed: int = 0
    removed: int = 0
    products_changed: int = 0
    # Products whose answer was refused, could not be stored, or whose write a subscriber of
    # offers_changed_batch failed (rolled back), with the reason (for their last_sync_error).
    failed: dict[uuid.UUID, str] = field(default_factory=dict)

    def add(self, changes: OfferChanges) -> None:
        self.added += len(changes.appeared)
        self.changed += len(changes.changed)
        self.removed += len(changes.vanished)
        self.products_changed += 1


def offer_changes(cached: CachedOffers, reported: Sequence[OfferData]) -> OfferChanges:
    changes = OfferChanges(reported=reported)
    reported_ids = set()
    for offer in reported:
        reported_ids.add(offer.id)
        before = cached.get(offer.id)
        if before is None:
            changes.appeared.append(offer)
        elif before != (offer.price, offer.items_in_stock):
            changes.changed.append(offer)
            changes.previous[offer.id] = OfferData(id=offer.id, price=before[0], items_in_stock=before[1])
    for offer_id, (price, stock) in cached.items():
        if offer_id not in reported_ids:
            changes.vanished.append(OfferData(id=offer_id, price=price, items_in_stock=stock))
    return changes


def offers_reconcile_many(answers: dict[uuid.UUID, list[OfferData]]) -> ReconcileCounts:
    """Reconcile several products' answers: one read for all, then one transaction for the changed.

    The read (no lock) sets the unchanged answers aside. A batch whose transaction fails is done
    again one transaction per product (`offers_reconcile`), so the failure costs only its product.
    Products deleted meanwhile are skipped. Answers that cannot be stored, and writes a subscriber
    failed, are in `failed`; the caller records the others as synced. A database that went away is
    not one product's fault: OperationalError and InterfaceError propagate (the cycle stops and the
    worker waits it out).
    """
    counts = ReconcileCounts()
    if not answers:
        return counts
    cached = cached_offers_for(answers)
    changed = {pid: reported for pid, reported in answers.items() if offer_changes(cached.get(pid, {}), reported)}
    if not changed:
        return counts
    try:
        with transaction.atomic():
            return _write_batch(changed)
    except (OperationalError, InterfaceError):
        raise
    except (DatabaseError, OverflowError, SubscriberFailed) as exc:
        # The product at fault is logged when it fails again on its own.
        logger.debug(
            "a batch of %d changed products failed as a whole (%s); writing them one by one",
            len(changed),
            type(exc).__name__,
        )
        for product_id, reported in changed.items():
            _reconcile_alone(product_id, reported, counts)
        return counts


def _reconcile_alone(product_id: uuid.UUID, reported: Sequence[OfferData], counts: ReconcileCounts) -> None:
    """One product in its own transaction; its failure goes into `counts.failed`."""
    try:
        changes = offers_reconcile(product_id=product_id, reported=reported)
    except (AnswerRefused, SubscriberFailed) as exc:
        counts.failed[product_id] = str(exc)
    except (OperationalError, InterfaceError):
        raise
    except (DatabaseError, OverflowError) as exc:
        # The client lets through only values that fit, so this is a surprise: keep the
        # traceback in the log, and only the kind of failure in the product's error.
        logger.warning("product %s: its offers could not be stored", product_id, exc_info=True)
        counts.failed[product_id] = f"offers could not be stored ({type(exc).__name__})"
    else:
        if changes:
            counts.add(changes)


def _write_batch(answers: dict[uuid.UUID, list[OfferData]]) -> ReconcileCounts:
    """Write several products' answers in the caller's transaction; raise to have it rolled back.

    The products' rows are locked first, in id order (two workers locking overlapping batches
    cannot deadlock), which orders this write after a concurrent delete of a product and after
    another worker's write of the same product; their cached offers are then read again under
    the locks, so the changes written are exactly those from the cache to each answer.
    """
    counts = ReconcileCounts()
    locked, cached = lock_and_read(answers)
    changes_of = {}
    for product_id, reported in answers.items():  # in the batch's order: the first of two keeps an id
        if product_id in locked and (changes := offer_changes(cached.get(product_id, {}), reported)):
            changes_of[product_id] = changes
    for product_id, foreign in _offer_ids_held_elsewhere(changes_of).items():
        counts.failed[product_id] = str(_foreign_ids_refusal(foreign))
        del changes_of[product_id]
    if not changes_of:
        return counts
    now = timezone.now()
    write_offer_changes(changes_of, now=now)
    payloads = [_payload(product_id, changes, now) for product_id, changes in changes_of.items()]
    _publish(payloads, log_failure=False)
    for changes in changes_of.values():
        counts.add(changes)
    logger.debug(
        "%d products written in one batch: %d offers added, %d changed, %d removed",
        counts.products_changed,
        counts.added,
        counts.changed,
        counts.removed,
    )
    return counts


def _offer_ids_held_elsewhere(changes_of: dict[uuid.UUID, OfferChanges]) -> dict[uuid.UUID, int]:
    """Products whose new offers include ids another product holds (or is given in this batch): how many.

    Read under the products' locks, an id new to a product's cache that exists at all is another
    product's, so one query over the new ids finds them. Of two products reporting the same new id
    in one batch, the first keeps it and the second is refused.
    """
    claimed: dict[uuid.UUID, uuid.UUID] = {}
    foreign: dict[uuid.UUID, int] = defaultdict(int)
    for product_id, changes in changes_of.items():
        for offer in changes.appeared:
            if claimed.setdefault(offer.id, product_id) != product_id:
                foreign[product_id] += 1
    for offer_id in existing_offer_ids(claimed):
        foreign[claimed[offer_id]] += 1
    return dict(foreign)


@transaction.atomic
def offers_reconcile(*, product_id: uuid.UUID, reported: Sequence[OfferData]) -> OfferChanges:
    """Make one product's cached offers equal `reported`, atomically, whatever happened meanwhile.

    The product row is locked for the few milliseconds this takes, so that two workers that
    happen to reconcile the same product apply whole answers one after the other, and a product
    deleted meanwhile is left alone.
    """
    locked, cached = lock_and_read([product_id])
    if not locked:
        return OfferChanges()
    changes = offer_changes(cached.get(product_id, {}), reported)
    if foreign := _offer_ids_held_elsewhere({product_id: changes}).get(product_id):
        raise _foreign_ids_refusal(foreign)
    if changes:
        now = timezone.now()
        write_offer_changes({product_id: changes}, now=now)
        _publish([_payload(product_id, changes, now)], log_failure=True)
    return changes


def _payload(product_id: uuid.UUID, changes: OfferChanges, observed_at) -> OffersChanged:
    return OffersChanged(
        product_id=product_id,
        observed_at=observed_at,
        appeared=tuple(changes.appeared),
        changed=tuple(OfferChange(before=changes.previous[o.id], after=o) for o in changes.changed),
        vanished=tuple(changes.vanished),
        offers=tuple(changes.reported),
    )


def _publish(payloads: Sequence[OffersChanged], *, log_failure: bool) -> None:
    """Hand the changes to the subscribers, in the caller's transaction (see offers_sync.signals).

    A subscriber's exception becomes SubscriberFailed, which rolls the write back and is told apart
    from the database errors of the write itself. A batch's failure is not logged with its
    traceback here: the batch is redone product by product, and the product whose subscriber
    fails again is logged then (`log_failure`). The failure's text is what the product's
    last_sync_error shows in the admin: it names the event (offers changed), not the signal.
    """
    try:
        offers_changed_batch.send(sender=OffersChanged, changes=tuple(payloads))
    except Exception as exc:
        if log_failure:
            logger.exception(
                "product %s: a subscriber of offers_changed failed; its offers stay as they were",
                payloads[0].product_id,
            )
        raise SubscriberFailed(f"a subscriber of offers_changed failed: {type(exc).__name__}") from exc
