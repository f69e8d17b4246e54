"""The offer sync's extension point: `offers_changed_batch`, sent when products' cached offers change.

An app that must react to offers changing (the price history, the alerts) subscribes here, in its
AppConfig.ready(), and offers_sync never names it:

    from offers_sync.signals import offers_changed_batch

    def on_offers_changed(sender, *, changes: Sequence[OffersChanged], **kwargs): ...

    offers_changed_batch.connect(on_offers_changed, dispatch_uid="myapp.on_offers_changed")

The worker writes the changed products of a batch (up to `SYNC_CONCURRENCY` × 8) in one
transaction, and the reconciler sends `offers_changed_batch` once in it, while holding the
products' row locks, with one OffersChanged per changed product (`changes=` a tuple): a subscriber
that writes rows per change can write the whole batch's in one statement (the price history does).
A receiver's writes commit or roll back with the offers. If a receiver raises, the batch is rolled
back whole and written again product by product, each in its own transaction with a one-product
`offers_changed_batch`; so a receiver may see a change once in a batch that was then rolled back
(its writes with it), and a receiver that keeps raising for one product fails only that product
(its old offers stay, the next tick tries again) while the others go on. A receiver must do no
network call (it runs inside the transaction) and should be quick: it is on the sync's hot path.
Work that must not roll back with the offers, or that talks to the outside (webhooks), belongs in
rows a receiver writes and a process of its own delivers.

Nothing is sent for an answer identical to the cache.

`worker_cycle_done` is the worker's housekeeping hook: sent by `run_sync` after each scheduled
cycle, outside any transaction, so a subscriber can do periodic upkeep of its own (the price
history prunes old events). A receiver that raises is logged and the worker goes on.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.dispatch import Signal

from offers_sync.client import OfferData

# Sent with sender=OffersChanged and changes=<tuple of OffersChanged>, once per written batch.
# Receivers take **kwargs.
offers_changed_batch = Signal()
# Sent with sender=<the run_sync Command class>, summary=<CycleSummary, or None when the cycle
# could not run> and proceed=<() -> bool>: long upkeep calls it between units of work (it beats the
# worker's heartbeat) and stops when it returns False (the worker was asked to stop). Receivers
# take **kwargs.
worker_cycle_done = Signal()


@dataclass(frozen=True, slots=True)
class OfferChange:
    """One offer that was listed before and after, with a different price or stock."""

    before: OfferData
    after: OfferData

    @property
    def id(self) -> uuid.UUID:
        return self.after.id


@dataclass(frozen=True, slots=True)
class OffersChanged:
    """One product's offers changing, as one answer of the offers service revealed it.

    `appeared`, `changed` and `vanished` hold only the offers that differ; `offers` is the whole
    set after the change (the answer), so a rule about the set (the best in-stock price, how many
    offers are in stock) can be evaluated without a query; `offers_before()` rebuilds the set
    before it. `observed_at` is when the change was seen, the same time the rows are stamped with.
    """

    product_id: uuid.UUID
    observed_at: datetime
    appeared: Sequence[OfferData]
    changed: Sequence[OfferChange]
    vanished: Sequence[OfferData]  # with their last known price and stock
    offers: Sequence[OfferData]

    def offers_before(self) -> list[OfferData]:
        """The product's offers as they were cached before this change."""
        appeared = {offer.id for offer in self.appeared}
        before = {change.id: change.before for change in self.changed}
        kept = [before.get(offer.id, offer) for offer in self.offers if offer.id not in appeared]
        return [*kept, *self.vanished]


class SubscriberFailed(Exception):
    """A receiver of `offers_changed_batch` raised: the write it was sent for was rolled back."""
