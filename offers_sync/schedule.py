"""The sync schedule: a cron expression, 6 fields with seconds first, or standard 5-field cron."""

from dataclasses import dataclass
from datetime import datetime

from croniter import croniter


class InvalidSchedule(ValueError):
    pass


@dataclass(frozen=True)
class Schedule:
    expression: str

    @property
    def has_seconds(self) -> bool:
        return len(self.expression.split()) == 6

    def next_after(self, moment: datetime) -> datetime:
        """The first tick strictly after `moment` (aware datetimes in, aware datetimes out)."""
        return croniter(self.expression, moment, second_at_beginning=self.has_seconds).get_next(datetime)

    def interval_after(self, moment: datetime) -> float:
        """Seconds between the next two ticks: how often the schedule fires around `moment`."""
        first = self.next_after(moment)
        return (self.next_after(first) - first).total_seconds()


def parse_schedule(expression: str) -> Schedule | None:
    """The schedule, or None when the expression is empty (sync disabled). Raises InvalidSchedule."""
    expression = " ".join(expression.split())
    if not expression:
        return None
    fields = len(expression.split())
    if fields not in (5, 6):
        raise InvalidSchedule(f"SYNC_SCHEDULE must have 6 fields (seconds first) or 5, not {fields}: {expression!r}")
    if not croniter.is_valid(expression, second_at_beginning=fields == 6):
        raise InvalidSchedule(f"SYNC_SCHEDULE is not a valid cron expression: {expression!r}")
    return Schedule(expression)
