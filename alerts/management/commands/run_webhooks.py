"""`manage.py run_webhooks`: the webhook delivery worker (or, with --once, what is due now).

Sends up to WEBHOOK_CONCURRENCY deliveries at once from a thread pool; this thread alone talks to
the database (claims, records). Several workers may run: each attempt is claimed by one of them
(alerts.dispatch). SIGTERM/SIGINT only set a flag: no new claims, the attempts in flight end
within WEBHOOK_TIMEOUT and are recorded, and the process exits 0. Database outages are logged and
waited out; a receiver can do nothing worse than fail its own attempt. Every recorded attempt
is counted in the worker's metrics (alerts.metrics), served on WEBHOOK_METRICS_PORT when set.
Once an hour the long-running worker deletes the history past WEBHOOK_HISTORY_DAYS.
"""

import logging
import signal
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import nullcontext
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import DatabaseError, close_old_connections
from django.utils import timezone

from aggregator.metrics import worker_metrics_listener
from alerts.dispatch import Claimed, deliveries_claim, deliveries_record, delivery_send
from alerts.metrics import attempts_recorded, webhook_metrics
from alerts.services import webhook_history_cutoff, webhook_history_prune

logger = logging.getLogger("alerts.worker")

IDLE_SECONDS = 1.0
SUMMARY_EVERY_SECONDS = 60
DATABASE_RETRY_SECONDS = 5
PRUNE_HISTORY_EVERY = timedelta(hours=1)
PRUNE_SLICE_SECONDS = 2.0
PRUNE_PAUSE_SECONDS = 10


class Command(BaseCommand):
    help = "Deliver alert webhooks: claim due deliveries, POST them signed, retry on schedule."

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.stop = threading.Event()
        self.next_prune_at = timezone.now()  # at the start, then hourly
        self.pruned_deliveries = self.pruned_events = 0

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Deliver what is due now, then exit.")

    def handle(self, *args, **options):
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)
        self.concurrency = settings.WEBHOOK_CONCURRENCY
        self.in_flight: dict[Future, Claimed] = {}
        self.counts: dict[str, int] = {}
        listening = (
            nullcontext()
            if options["once"]
            else worker_metrics_listener(webhook_metrics().registry, settings_prefix="WEBHOOK", logger=logger)
        )
        with listening, ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="webhook") as pool:
            self.pool = pool
            if options["once"]:
                self.run_once()
            else:
                self.run_forever()
        if options["once"]:
            self.stdout.write(f"webhook deliveries: {self.describe()}")

    def describe(self) -> str:
        return ", ".join(f"{n} {status}" for status, n in sorted(self.counts.items())) or "nothing due"

    def on_signal(self, signum, frame):
        logger.info("received %s: finishing the deliveries in flight, then exiting", signal.Signals(signum).name)
        self.stop.set()

    def run_once(self) -> None:
        while not self.stop.is_set() and (self.fill() or self.in_flight):
            self.collect()
        self.drain()

    def run_forever(self) -> None:
        logger.info("webhook worker started: concurrency %d", self.concurrency)
        last_summary, reported = time.monotonic(), {}
        while not self.stop.is_set():
            if time.monotonic() - last_summary >= SUMMARY_EVERY_SECONDS and self.counts != reported:
                logger.info("webhook deliveries so far: %s", self.describe())
                last_summary, reported = time.monotonic(), dict(self.counts)
            self.prune_history_when_due()
            found = self.fill()
            if self.in_flight:
                self.collect()
            elif not found:
                self.stop.wait(IDLE_SECONDS)
        self.drain()
        logger.info("webhook worker stopped: %s", self.describe())

    def prune_history_when_due(self) -> None:
        """Once an hour, delete finished deliveries and events past WEBHOOK_HISTORY_DAYS.

        In slices of PRUNE_SLICE_SECONDS, PRUNE_PAUSE_SECONDS apart, between the loop's other work:
        the attempts in flight are recorded well within their leases, and deliveries go on at
        nearly their usual pace, however much history there is to delete.
        """
        now = timezone.now()
        if now < self.next_prune_at:
            return
        self.next_prune_at = now + PRUNE_HISTORY_EVERY
        cutoff = webhook_history_cutoff(now=now)
        if cutoff is None:
            return
        close_old_connections()
        deadline = time.monotonic() + PRUNE_SLICE_SECONDS
        try:
            pruned = webhook_history_prune(
                older_than=cutoff, should_stop=lambda: self.stop.is_set() or time.monotonic() > deadline
            )
        except DatabaseError as exc:
            logger.warning("pruning the webhook history failed: database unavailable (%s)", type(exc).__name__)
            close_old_connections()
            return
        self.pruned_deliveries += pruned.deliveries
        self.pruned_events += pruned.events
        if time.monotonic() > deadline and not self.stop.is_set():
            self.next_prune_at = now + timedelta(seconds=PRUNE_PAUSE_SECONDS)  # more to delete
            return
        if self.pruned_deliveries or self.pruned_events:
            logger.info(
                "pruned %d webhook deliveries and %d events created before %s",
                self.pruned_deliveries,
                self.pruned_events,
                cutoff.isoformat(timespec="seconds"),
            )
        self.pruned_deliveries = self.pruned_events = 0

    def fill(self) -> int:
        """Claim as many due deliveries as there are free threads; how many were claimed."""
        free = self.concurrency - len(self.in_flight)
        # Claiming for a single free thread would cost a query per delivery; wait for a few.
        if free <= 0 or (self.in_flight and free < max(1, self.concurrency // 4)):
            return 0
        close_old_connections()
        try:
            claimed = deliveries_claim(limit=free)
        except DatabaseError as exc:
            logger.warning("claiming deliveries failed: database unavailable (%s)", type(exc).__name__)
            close_old_connections()
            self.stop.wait(DATABASE_RETRY_SECONDS)
            return 0
        for item in claimed:
            self.in_flight[self.pool.submit(delivery_send, item)] = item
        return len(claimed)

    def collect(self, timeout: float = IDLE_SECONDS) -> None:
        """Record the attempts that finished (waiting up to `timeout` for one), in one transaction."""
        done, _ = wait(list(self.in_flight), timeout=timeout, return_when=FIRST_COMPLETED)
        results = [(self.in_flight.pop(future), future.result()) for future in done]
        if not results:
            return
        try:
            statuses = deliveries_record(results)
        except DatabaseError as exc:
            # Their leases run out and other attempts follow: at least once, never lost.
            logger.warning("recording %d deliveries failed (%s)", len(results), type(exc).__name__)
            close_old_connections()
            return
        attempts_recorded(statuses)
        for (claimed, outcome), status in zip(results, statuses, strict=True):
            self.counts[status] = self.counts.get(status, 0) + 1
            logger.debug(
                "delivery %s attempt %d: %s (%s, %d ms)",
                claimed.delivery_id,
                claimed.attempts + 1,
                status,
                outcome.status_code or outcome.error,
                outcome.duration_ms,
            )

    def drain(self) -> None:
        while self.in_flight:
            self.collect()
