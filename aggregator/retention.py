"""The one rule every history's retention shares: rows older than N days go, and 0 days keeps all."""

from datetime import datetime, timedelta


def retention_cutoff(*, now: datetime, days: int) -> datetime | None:
    """Rows from before this are past a retention of `days`; None when it keeps everything (0)."""
    if days <= 0:
        return None
    return now - timedelta(days=days)
