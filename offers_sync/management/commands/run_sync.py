"""`manage.py run_sync`: the long-running sync worker (or one cycle with --once).

The loop waits for the next tick of SYNC_SCHEDULE in one-second slices, runs a cycle, and goes
again. A tick that passes while a cycle runs is skipped, not queued. SIGTERM/SIGINT only set a
flag: the cycle in hand stops claiming work, finishes or abandons what it has in flight (each
fetch ends within its deadline, 2 × OFFERS_TIMEOUT), and the process exits 0. Offers-service
faults, database outages and any unforeseen error are logged and waited out; only
misconfiguration stops the worker. `--once` exits 0 when the cycle completed, however many
products failed in it.

Each cycle is counted in the worker's metrics (served on SYNC_METRICS_PORT when set) and written
to the cycle history (SyncRun), whatever its outcome; its log lines carry `cycle_id=…`.

`--check` is a liveness probe for orchestrators: exit 0 when this container's worker beat its
heartbeat file recently and completed a cycle recently enough for its schedule.
"""

import json
import logging
import os
import signal
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, close_old_connections
from django.utils import timezone

from aggregator.log_context import bind_cycle_id, new_id
from aggregator.metrics import worker_metrics_listener
from offers_sync import metrics
from offers_sync.client import RefreshTokenRejected
from offers_sync.gateway import is_configured, offers_service_for_worker
from offers_sync.models import SyncRun
from offers_sync.schedule import InvalidSchedule, Schedule, parse_schedule
from offers_sync.signals import worker_cycle_done
from offers_sync.sync import CycleAborted, CycleSummary, OfferSyncer
from offers_sync.sync_runs import sync_run_record, sync_runs_cutoff, sync_runs_prune

logger = logging.getLogger("offers_sync.worker")

HEARTBEAT_EVERY_SECONDS = 5
PRUNE_CYCLE_HISTORY_EVERY = timedelta(hours=1)
DATABASE_RETRY_SECONDS = 5


class Command(BaseCommand):
    help = "Mirror every registered product's offers from the offers service on SYNC_SCHEDULE."

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.stop = threading.Event()
        self.started_at: datetime | None = None
        self.last_cycle_finished_at: datetime | None = None
        self.last_prune_at: datetime | None = None

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run one cycle now, print a summary and exit.")
        parser.add_argument(
            "--tick",
            type=datetime.fromisoformat,
            help="With --once: the schedule tick to run (ISO 8601). Workers given the same tick share it.",
        )
        parser.add_argument(
            "--check",
            action="store_true",
            help="Exit 0 if this container's worker is alive and syncing on schedule, 1 otherwise.",
        )

    def handle(self, *args, **options):
        self.heartbeat_file = Path(settings.SYNC_HEARTBEAT_FILE)
        if options["check"]:
            return self.check_liveness()
        schedule = self.read_schedule()
        if schedule is None and not options["once"]:
            logger.info("SYNC_SCHEDULE is empty: offer sync is disabled; exiting")
            return
        if not is_configured():
            raise CommandError("OFFERS_SERVICE_URL and OFFERS_REFRESH_TOKEN must be set to run the sync")
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)
        self.syncer = OfferSyncer(
            service=offers_service_for_worker(concurrency=settings.SYNC_CONCURRENCY, wait=self.stop.wait),
            concurrency=settings.SYNC_CONCURRENCY,
            worker_name=f"{socket.gethostname()}:{os.getpid()}"[:100],
            stop=self.stop,
            heartbeat=self.beat,
        )
        if options["once"]:
            return self.run_once(options["tick"] or timezone.now())
        # The registry made before the listener starts: every series is at 0 from the first scrape.
        with worker_metrics_listener(metrics.sync_metrics().registry, settings_prefix="SYNC", logger=logger):
            self.run_forever(schedule)

    def on_signal(self, signum, frame):
        logger.info("received %s: finishing work in hand, then exiting", signal.Signals(signum).name)
        self.stop.set()

    def read_schedule(self) -> Schedule | None:
        try:
            return parse_schedule(settings.SYNC_SCHEDULE)
        except InvalidSchedule as exc:
            raise CommandError(str(exc)) from None

    # -- modes -------------------------------------------------------------------------------

    def run_once(self, tick: datetime) -> None:
        if timezone.is_naive(tick):
            tick = tick.replace(tzinfo=UTC)
        summary = self.run_cycle(tick)
        if summary is None:
            raise CommandError("the sync cycle could not run (see the log above)")
        self.stdout.write(f"sync cycle finished: {summary.describe()}")

    def run_forever(self, schedule: Schedule) -> None:
        logger.info(
            "sync worker %s started: schedule %r, concurrency %d",
            self.syncer.worker_name,
            schedule.expression,
            self.syncer.concurrency,
        )
        self.started_at = timezone.now()
        self.beat()
        while not self.stop.is_set():
            tick = schedule.next_after(timezone.now())
            if not self.wait_until(tick):
                break
            summary = self.run_cycle(tick)
            self.after_cycle(summary)
            missed = self.ticks_between(schedule, tick, timezone.now())
            if missed:
                logger.info("skipped %d tick(s) that came while the cycle ran", missed)
        logger.info("sync worker %s stopped", self.syncer.worker_name)

    def run_cycle(self, tick: datetime) -> CycleSummary | None:
        """Run one cycle, surviving everything but a rejected refresh token. None if it could not run."""
        cycle_id = new_id()
        bind_cycle_id(cycle_id)  # every log line until the cycle is recorded carries it
        started_at = timezone.now()
        summary, reason = None, ""
        close_old_connections()
        try:
            summary = self.syncer.run_cycle(tick)
            outcome = SyncRun.Outcome.STOPPED if summary.stopped_early else SyncRun.Outcome.COMPLETED
        except RefreshTokenRejected:
            self.cycle_ended(cycle_id, tick, started_at, SyncRun.Outcome.FAILED, reason="refresh token rejected")
            bind_cycle_id(None)
            raise CommandError(
                "configuration error: the offers service rejected OFFERS_REFRESH_TOKEN (401 at /auth)"
            ) from None
        except CycleAborted as exc:
            logger.warning("sync cycle for %s skipped: %s", tick.isoformat(timespec="seconds"), exc)
            outcome, reason = SyncRun.Outcome.SKIPPED, str(exc)
        except DatabaseError as exc:
            logger.warning("sync cycle for %s failed: database unavailable (%s)", tick.isoformat(), type(exc).__name__)
            outcome, reason = SyncRun.Outcome.FAILED, f"database unavailable ({type(exc).__name__})"
            close_old_connections()
            self.stop.wait(DATABASE_RETRY_SECONDS)
        except Exception as exc:
            # Only misconfiguration stops the worker; anything else is this cycle's failure, told
            # once with its traceback, and the next tick runs.
            logger.exception("sync cycle for %s failed unexpectedly", tick.isoformat(timespec="seconds"))
            outcome, reason = SyncRun.Outcome.FAILED, f"unexpected failure ({type(exc).__name__})"
        finally:
            close_old_connections()
        if summary is not None:
            logger.info("sync cycle for %s finished: %s", tick.isoformat(timespec="seconds"), summary.describe())
        self.cycle_ended(cycle_id, tick, started_at, outcome, summary=summary, reason=reason)
        bind_cycle_id(None)
        if summary is None:
            return None
        if not summary.stopped_early:
            self.last_cycle_finished_at = timezone.now()
        self.beat()
        return summary

    def cycle_ended(self, cycle_id, tick, started_at, outcome, *, summary=None, reason="") -> None:
        """Count the cycle in the metrics and write its history row (skipped if the database is down)."""
        metrics.cycle_ended(outcome, summary)
        try:
            sync_run_record(
                cycle_id=cycle_id,
                worker=self.syncer.worker_name,
                tick=tick,
                started_at=started_at,
                finished_at=timezone.now(),
                outcome=outcome,
                summary=summary,
                reason=reason,
            )
        except DatabaseError as exc:
            logger.warning("sync cycle not recorded in the history: database unavailable (%s)", type(exc).__name__)
        finally:
            close_old_connections()

    def after_cycle(self, summary: CycleSummary | None) -> None:
        """Give the subscribers of `worker_cycle_done` their turn for upkeep (pruning price history).

        A worker asked to stop skips it (its next start catches up). Long upkeep calls `proceed`
        between its units of work: it beats the heartbeat and says whether to go on.
        """
        if self.stop.is_set():
            return
        self.prune_cycle_history_when_due()
        results = worker_cycle_done.send_robust(sender=type(self), summary=summary, proceed=self.between_prune_batches)
        for receiver, result in results:
            if isinstance(result, Exception):
                logger.warning("after-cycle task %s failed: %s", getattr(receiver, "__qualname__", receiver), result)

    def between_prune_batches(self) -> bool:
        """A long prune still beats the heartbeat (so --check sees the worker alive) and stops on SIGTERM."""
        self.beat()
        return not self.stop.is_set()

    def prune_cycle_history_when_due(self) -> None:
        """Once an hour, delete cycle rows past SYNC_RUNS_DAYS (the price history prunes itself)."""
        now = timezone.now()
        if self.last_prune_at and now - self.last_prune_at < PRUNE_CYCLE_HISTORY_EVERY:
            return
        self.last_prune_at = now
        cutoff = sync_runs_cutoff(now=now)
        if cutoff is None:
            return
        try:
            sync_runs_prune(older_than=cutoff, should_stop=self.stop.is_set)
        except DatabaseError as exc:
            logger.warning("pruning the cycle history failed: database unavailable (%s)", type(exc).__name__)

    def wait_until(self, moment: datetime) -> bool:
        """Sleep until `moment` in short slices; False if asked to stop meanwhile."""
        last_beat = time.monotonic()
        while not self.stop.is_set():
            remaining = (moment - timezone.now()).total_seconds()
            if remaining <= 0:
                return True
            self.stop.wait(min(remaining, 1.0))
            if time.monotonic() - last_beat >= HEARTBEAT_EVERY_SECONDS:
                self.beat()
                last_beat = time.monotonic()
        return False

    @staticmethod
    def ticks_between(schedule: Schedule, after: datetime, before: datetime) -> int:
        missed, tick = 0, schedule.next_after(after)
        while tick <= before and missed < 10_000:
            missed, tick = missed + 1, schedule.next_after(tick)
        return missed

    # -- liveness ----------------------------------------------------------------------------

    def beat(self) -> None:
        state = {
            "pid": os.getpid(),
            "beat_at": timezone.now().isoformat(),
            "started_at": (self.started_at or timezone.now()).isoformat(),
            "last_cycle_finished_at": (
                self.last_cycle_finished_at.isoformat() if self.last_cycle_finished_at else None
            ),
        }
        try:
            temporary = self.heartbeat_file.with_name(f"{self.heartbeat_file.name}.{os.getpid()}.tmp")
            temporary.write_text(json.dumps(state))
            temporary.replace(self.heartbeat_file)  # atomic: --check never reads half a file
        except OSError as exc:
            logger.warning("could not write the heartbeat file %s: %s", self.heartbeat_file, exc)

    def check_liveness(self) -> None:
        try:
            state = json.loads(self.heartbeat_file.read_text())
            beat_at = datetime.fromisoformat(state["beat_at"])
            started_at = datetime.fromisoformat(state["started_at"])
            last_cycle = state["last_cycle_finished_at"] and datetime.fromisoformat(state["last_cycle_finished_at"])
        except (OSError, ValueError, KeyError, TypeError):
            raise CommandError(f"no readable heartbeat at {self.heartbeat_file}: is the worker running?") from None
        now = timezone.now()
        if now - beat_at > timedelta(seconds=settings.SYNC_HEARTBEAT_MAX_AGE):
            raise CommandError(f"worker heartbeat is {int((now - beat_at).total_seconds())}s old")
        schedule = self.read_schedule()
        if schedule is not None:
            # A cycle should complete every interval; allow two missed ones plus the cycle itself.
            allowed = timedelta(seconds=2 * schedule.interval_after(now) + settings.SYNC_HEARTBEAT_MAX_AGE)
            reference = last_cycle or started_at
            if now - reference > allowed + (timedelta(0) if last_cycle else allowed):
                raise CommandError(f"no sync cycle completed since {reference.isoformat(timespec='seconds')}")
        self.stdout.write("sync worker is alive")
