"""The history of sync cycles: one SyncRun row per cycle of each worker, and its retention.

The worker records each cycle when it ends, however it ended (`sync_run_record`), and once an hour
deletes rows older than SYNC_RUNS_DAYS in small batches (`sync_runs_prune`), like the price history.
"""

import logging
from collections.abc import Callable
from dataclasses import fields
from datetime import datetime

from django.conf import settings

from aggregator.retention import retention_cutoff
from offers_sync.models import SyncRun
from offers_sync.sync import CycleSummary

logger = logging.getLogger(__name__)

DEFAULT_PRUNE_BATCH_SIZE = 5000
# What a cycle's row copies from its summary: the summary's fields that the row has too, but the
# tick, which is written apart.
_ROW_FIELDS = {field.name for field in SyncRun._meta.get_fields()} - {"tick"}
_SUMMARY_FIELDS = [field.name for field in fields(CycleSummary) if field.name in _ROW_FIELDS]


def sync_run_record(
    *,
    cycle_id: str,
    worker: str,
    tick: datetime,
    started_at: datetime,
    finished_at: datetime,
    outcome: str,
    summary: CycleSummary | None = None,
    reason: str = "",
) -> SyncRun:
    """Write one cycle's row: its counts from `summary` when it ran, `reason` when it did not."""
    counts = {name: getattr(summary, name) for name in _SUMMARY_FIELDS} if summary is not None else {}
    if summary is None:
        counts["duration_seconds"] = max((finished_at - started_at).total_seconds(), 0.0)
    return SyncRun.objects.create(
        cycle_id=cycle_id,
        worker=worker[:100],
        tick=tick,
        started_at=started_at,
        finished_at=finished_at,
        outcome=outcome,
        reason=reason[:500],
        **counts,
    )


def sync_runs_cutoff(*, now: datetime) -> datetime | None:
    """Rows of cycles started before this are past retention; None when it is off (0 days)."""
    return retention_cutoff(now=now, days=settings.SYNC_RUNS_DAYS)


def sync_runs_prune(
    *,
    older_than: datetime,
    batch_size: int = DEFAULT_PRUNE_BATCH_SIZE,
    should_stop: Callable[[], bool] = lambda: False,
) -> int:
    """Delete rows of cycles started before `older_than`, `batch_size` per statement; return how many.

    Each batch is its own short statement (the caller must not wrap this in a transaction), and
    `should_stop` is asked between batches, so a stopping worker leaves the rest for next time.
    """
    deleted = 0
    while not should_stop():
        ids = list(
            SyncRun.objects.filter(started_at__lt=older_than)
            .order_by("started_at", "id")
            .values_list("id", flat=True)[:batch_size]
        )
        if not ids:
            break
        count, _ = SyncRun.objects.filter(id__in=ids).delete()
        deleted += count
    if deleted:
        logger.info("pruned %d sync cycle rows started before %s", deleted, older_than.isoformat())
    return deleted
