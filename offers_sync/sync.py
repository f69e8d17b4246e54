"""One sync cycle: register pending products, then mirror every registered product's offers.

Several worker processes may run the same tick at once. They split its products between them by
claiming small batches with a conditional update (`sync_claimed_for < tick` → `= tick`), so no
product is fetched twice for one tick and no row lock is held during an HTTP call. A worker that
dies leaves its unclaimed share to the others and its claimed share to the next tick.

Within a worker, a thread pool fetches (HTTP only) while the main thread claims and reconciles
(database only), a few batches apart, so the two overlap. Each fetch, retries included, ends
within `fetch_seconds()` whatever the offers service does (aggregator.outgoing_http), and the main
thread waits for none longer than that plus the token's wait: a slow product fails alone.
"""

import logging
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import asdict, dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError, connection, connections
from django.utils import timezone

from aggregator import outgoing_http
from offers_sync.client import OfferData, OffersServiceError, ProductNotRegistered, RefreshTokenRejected
from offers_sync.gateway import OffersService
from offers_sync.models import FULL_STATE_CHECK_EVERY, RECENT_PRODUCTS, SyncStatus
from offers_sync.reconcile import offers_reconcile_many
from offers_sync.registration import (
    PendingProduct,
    product_mark_registered,
    product_mark_unregistered,
    product_registration_failed,
    product_sync_states_create_missing,
    products_claim_due_registrations,
)
from offers_sync.sync_states import products_claim_for_tick, products_mark_failed, products_mark_synced
from offers_sync.tokens import TokenUnavailable

logger = logging.getLogger(__name__)

# Batches claimed ahead of the one being reconciled, so fetch threads never run dry.
BATCHES_IN_FLIGHT = 3
# Products per batch for each fetch thread. A batch costs the main thread about ten statements
# whatever its size (claim, read, lock, write, events, commit, stamp), each a round trip it
# waits out, so larger batches leave it more time per product; a batch's transaction stays short.
BATCH_PER_FETCH_THREAD = 8
REGISTRATIONS_PER_CYCLE = 2000
# Beyond a fetch's own deadline (twice OFFERS_TIMEOUT, retries included), what waiting for the
# shared access token may add (the worker's token source waits up to 10 s) and a margin. The main
# thread never waits longer for one fetch; a fetch that did (it cannot, by its deadline) fails.
FETCH_WAIT_MARGIN_SECONDS = 15.0


def fetch_seconds() -> float:
    """A product's fetch or registration ends within this many seconds (docs/sync.md)."""
    return 2.0 * settings.OFFERS_TIMEOUT


class CycleAborted(Exception):
    """The cycle could not run at all (no access token); nothing was claimed."""


@dataclass
class CycleSummary:
    tick: datetime
    products_synced: int = 0
    products_failed: int = 0
    products_unregistered: int = 0
    products_registered: int = 0
    registrations_failed: int = 0
    offers_added: int = 0
    offers_changed: int = 0
    offers_removed: int = 0
    duration_seconds: float = 0.0
    # Where the main thread's time went: claiming, waiting for fetch threads, reconciling.
    seconds_claiming: float = 0.0
    seconds_waiting: float = 0.0
    seconds_reconciling: float = 0.0
    stopped_early: bool = False
    failures: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["tick"] = self.tick.isoformat()
        return data

    def describe(self) -> str:
        text = (
            f"products synced={self.products_synced} failed={self.products_failed} "
            f"unregistered={self.products_unregistered} registered={self.products_registered} "
            f"registration_failed={self.registrations_failed}; offers added={self.offers_added} "
            f"changed={self.offers_changed} removed={self.offers_removed}; "
            f"duration={self.duration_seconds:.2f}s (claiming {self.seconds_claiming:.2f}s, "
            f"waiting for fetches {self.seconds_waiting:.2f}s, reconciling {self.seconds_reconciling:.2f}s)"
        )
        return text + (" (stopped early)" if self.stopped_early else "")


@dataclass(frozen=True, slots=True)
class FetchOutcome:
    product_id: uuid.UUID
    offers: list[OfferData] | None = None
    not_registered: bool = False
    error: str = ""


def unexpected_failure(exc: BaseException) -> str:
    """A product's error for a failure nobody foresaw: its kind only (the log has the traceback)."""
    return f"unexpected failure ({type(exc).__name__}); see the worker log"


def relax_commit_durability() -> None:
    """Let this worker's commits return before PostgreSQL has flushed them to disk.

    Waiting for the flush costs a few milliseconds per product transaction, most of a cycle's
    time. What it protects is not needed here: the offers are a mirror of the offers service, and
    the worst a database crash can do with this off is forget the last fraction of a second of
    sync work (never corrupt it), which the next tick fetches again. Only this session is
    affected; the web process's writes (products) stay fully durable.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO off")


def sync_cycle_started() -> None:
    SyncStatus.objects.update_or_create(pk=SyncStatus.SINGLETON_ID, defaults={"last_cycle_started_at": timezone.now()})


def sync_cycle_finished(summary: CycleSummary) -> datetime:
    now = timezone.now()
    SyncStatus.objects.update_or_create(
        pk=SyncStatus.SINGLETON_ID,
        defaults={"last_cycle_finished_at": now, "last_cycle_summary": summary.as_dict()},
    )
    return now


class OfferSyncer:
    """Runs sync cycles for one worker process."""

    def __init__(
        self,
        *,
        service: OffersService,
        concurrency: int,
        worker_name: str,
        stop: threading.Event | None = None,
        heartbeat: Callable[[], None] = lambda: None,
    ):
        self.service = service
        self.concurrency = concurrency
        self.worker_name = worker_name
        self.stop = stop or threading.Event()
        self.heartbeat = heartbeat
        self.batch_size = max(16, concurrency * BATCH_PER_FETCH_THREAD)
        self.states_checked_at: datetime | None = None

    def run_cycle(self, tick: datetime) -> CycleSummary:
        """Run one whole cycle for `tick`. Raises CycleAborted, RefreshTokenRejected or DatabaseError."""
        started = time.monotonic()
        summary = CycleSummary(tick=tick)
        try:
            # Without a token every call would fail: find out before claiming anything.
            self.service.tokens.get()
        except TokenUnavailable as exc:
            when = f" (expected by {exc.available_at.isoformat(timespec='seconds')})" if exc.available_at else ""
            raise CycleAborted(f"no access token for the offers service{when}") from None
        except OffersServiceError as exc:
            if isinstance(exc, RefreshTokenRejected):
                raise
            raise CycleAborted(f"could not get an access token: {exc}") from None
        sync_cycle_started()
        relax_commit_durability()
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="offers-fetch")
        try:
            self._register_pending(pool, summary)
            self._sync_registered(pool, tick, summary)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        summary.stopped_early = self.stop.is_set()
        summary.duration_seconds = time.monotonic() - started
        if not summary.stopped_early:
            sync_cycle_finished(summary)
        return summary

    def sync_products(self, product_ids: list[uuid.UUID]) -> CycleSummary:
        """Fetch and reconcile these products now, outside the schedule (the admin's action)."""
        started = time.monotonic()
        summary = CycleSummary(tick=timezone.now())
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="offers-fetch") as pool:
            self._apply([(product_id, pool.submit(self._fetch, product_id)) for product_id in product_ids], summary)
        summary.duration_seconds = time.monotonic() - started
        return summary

    # -- registration ------------------------------------------------------------------------

    def _register_pending(self, pool: ThreadPoolExecutor, summary: CycleSummary) -> None:
        now = timezone.now()
        if self.states_checked_at is None or now - self.states_checked_at >= FULL_STATE_CHECK_EVERY:
            product_sync_states_create_missing(now=now)
            self.states_checked_at = now
        else:
            product_sync_states_create_missing(now=now, created_since=now - RECENT_PRODUCTS)
        pending = products_claim_due_registrations(now=now, limit=REGISTRATIONS_PER_CYCLE)
        futures = [pool.submit(self._register, product) for product in pending]
        for product, error in zip(pending, map(self._registration_result, futures), strict=True):
            if error is None:
                product_mark_registered(product_id=product.id)
                summary.products_registered += 1
            else:
                product_registration_failed(product_id=product.id, reason=error)
                summary.registrations_failed += 1

    def _registration_result(self, future: Future) -> str | None:
        try:
            return future.result(timeout=fetch_seconds() + FETCH_WAIT_MARGIN_SECONDS)
        except FutureTimeout:
            return "registration did not end within its deadline"

    def _register(self, product: PendingProduct) -> str | None:
        try:
            if self.stop.is_set():
                return "stopped before trying"
            with outgoing_http.deadline(fetch_seconds()):
                self.service.register(product_id=product.id, name=product.name, description=product.description)
            return None
        except (OffersServiceError, TokenUnavailable) as exc:
            logger.warning("product %s: registration failed: %s", product.id, exc)
            return str(exc)
        except DatabaseError as exc:  # renewing the shared token needs the database
            return f"database unavailable while renewing the token ({type(exc).__name__})"
        except Exception as exc:
            # Whatever one answer does costs only this product's registration.
            logger.exception("product %s: registration failed unexpectedly", product.id)
            return unexpected_failure(exc)
        finally:
            connections.close_all()  # only ever opened here to renew the token

    # -- offers ------------------------------------------------------------------------------

    def _sync_registered(self, pool: ThreadPoolExecutor, tick: datetime, summary: CycleSummary) -> None:
        in_flight: deque[list[tuple[uuid.UUID, Future]]] = deque()
        while not self.stop.is_set():
            claim_started = time.monotonic()
            claimed = products_claim_for_tick(tick=tick, worker=self.worker_name, limit=self.batch_size)
            summary.seconds_claiming += time.monotonic() - claim_started
            if not claimed:
                break
            in_flight.append([(product_id, pool.submit(self._fetch, product_id)) for product_id in claimed])
            if len(in_flight) >= BATCHES_IN_FLIGHT:
                self._apply(in_flight.popleft(), summary)
            self.heartbeat()
        if self.stop.is_set():
            # Abandon what has not started; those products keep their cache and come up next tick.
            for batch in in_flight:
                for _, future in batch:
                    future.cancel()
        while in_flight:
            self._apply([(p, f) for p, f in in_flight.popleft() if not f.cancelled()], summary)

    def _fetch(self, product_id: uuid.UUID) -> FetchOutcome:
        try:
            if self.stop.is_set():
                return FetchOutcome(product_id, error="stopped before fetching")
            with outgoing_http.deadline(fetch_seconds()):
                return FetchOutcome(product_id, offers=self.service.get_offers(product_id))
        except ProductNotRegistered:
            return FetchOutcome(product_id, not_registered=True)
        except (OffersServiceError, TokenUnavailable) as exc:
            return FetchOutcome(product_id, error=str(exc) or type(exc).__name__)
        except DatabaseError as exc:  # renewing the shared token needs the database
            reason = f"database unavailable while renewing the token ({type(exc).__name__})"
            return FetchOutcome(product_id, error=reason)
        except Exception as exc:
            # Whatever one answer does costs only this product, for this cycle.
            logger.exception("product %s: fetching its offers failed unexpectedly", product_id)
            return FetchOutcome(product_id, error=unexpected_failure(exc))
        finally:
            connections.close_all()  # only ever opened here to renew the token

    def _outcome(self, product_id: uuid.UUID, future: Future) -> FetchOutcome:
        try:
            return future.result(timeout=fetch_seconds() + FETCH_WAIT_MARGIN_SECONDS)
        except FutureTimeout:
            return FetchOutcome(product_id, error="fetch did not end within its deadline")

    def _apply(self, batch: list[tuple[uuid.UUID, Future]], summary: CycleSummary) -> None:
        """Reconcile one batch of fetched answers and record each product's outcome."""
        wait_started = time.monotonic()
        outcomes = [self._outcome(product_id, future) for product_id, future in batch]
        reconcile_started = time.monotonic()
        summary.seconds_waiting += reconcile_started - wait_started
        answers = {o.product_id: o.offers for o in outcomes if o.offers is not None}
        counts = offers_reconcile_many(answers)
        summary.offers_added += counts.added
        summary.offers_changed += counts.changed
        summary.offers_removed += counts.removed
        now = timezone.now()
        synced = [product_id for product_id in answers if product_id not in counts.failed]
        if synced:
            products_mark_synced(product_ids=synced, now=now)
            summary.products_synced += len(synced)
        failed_by_reason: dict[str, list[uuid.UUID]] = defaultdict(list)
        for product_id, reason in counts.failed.items():
            # Refused, not storable, or a subscriber of offers_changed_batch failed: rolled back, not synced.
            failed_by_reason[reason[:500]].append(product_id)
        for outcome in outcomes:
            if outcome.not_registered:
                product_mark_unregistered(product_id=outcome.product_id)
                summary.products_unregistered += 1
            elif outcome.error:
                failed_by_reason[outcome.error[:500]].append(outcome.product_id)
        for reason, product_ids in failed_by_reason.items():
            # The cached offers stay as they were; only the failure is noted.
            products_mark_failed(product_ids=product_ids, reason=reason, now=now)
            summary.products_failed += len(product_ids)
            summary.failures[reason] = summary.failures.get(reason, 0) + len(product_ids)
            logger.warning("%d product(s) not synced this cycle: %s", len(product_ids), reason)
        summary.seconds_reconciling += time.monotonic() - reconcile_started
