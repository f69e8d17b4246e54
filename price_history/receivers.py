"""The price history's subscriptions to the offer sync's hooks (see offers_sync.signals)."""

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from django.db import DatabaseError
from django.utils import timezone

from offers_sync.signals import OffersChanged
from price_history.prior_prices import prior_prices_record
from price_history.services import (
    DEFAULT_PRUNE_BATCH_SIZE,
    offer_events_record_many,
    price_events_prune,
    price_history_cutoff,
)

logger = logging.getLogger(__name__)

PRUNE_EVERY = timedelta(hours=1)
PRUNE_BATCH_SIZE = DEFAULT_PRUNE_BATCH_SIZE


def record_offer_events(sender, *, changes: Sequence[OffersChanged], **kwargs) -> None:
    """Record a batch's changes in the reconciler's transaction (committed with the offers, or not at
    all): the prior prices first, from the events before this batch's, then the batch's events."""
    prior_prices_record(changes)
    offer_events_record_many(changes)


class HourlyPrune:
    """Delete price events past PRICE_HISTORY_DAYS (in small batches) at most once an hour per worker.

    Called from the worker's one loop (run_sync's `worker_cycle_done`), never from two threads at once.
    """

    def __init__(self):
        self.last_run_at: datetime | None = None

    def __call__(self, sender, *, proceed: Callable[[], bool] | None = None, **kwargs) -> None:
        now = timezone.now()
        if self.last_run_at is not None and now - self.last_run_at < PRUNE_EVERY:
            return
        self.last_run_at = now
        cutoff = price_history_cutoff(now=now)
        if cutoff is None:
            return
        try:
            price_events_prune(older_than=cutoff, batch_size=PRUNE_BATCH_SIZE, proceed=proceed)
        except DatabaseError as exc:
            logger.warning("pruning price history failed: database unavailable (%s)", type(exc).__name__)


prune_when_due = HourlyPrune()
