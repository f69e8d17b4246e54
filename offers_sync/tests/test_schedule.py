from datetime import UTC, datetime

import pytest

from offers_sync.schedule import InvalidSchedule, parse_schedule

T0 = datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC)


def test_six_fields_have_seconds_first():
    schedule = parse_schedule("*/30 * * * * *")
    assert schedule.next_after(T0) == datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC)
    assert schedule.interval_after(T0) == 30


def test_five_fields_are_standard_cron():
    schedule = parse_schedule("*/5 * * * *")
    assert schedule.next_after(T0) == datetime(2026, 1, 1, 0, 5, tzinfo=UTC)
    assert schedule.interval_after(T0) == 300


def test_tick_exactly_now_is_not_repeated():
    schedule = parse_schedule("*/30 * * * * *")
    tick = datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC)
    assert schedule.next_after(tick) == datetime(2026, 1, 1, 0, 1, tzinfo=UTC)


@pytest.mark.parametrize("expression", ["", "   "])
def test_empty_disables(expression):
    assert parse_schedule(expression) is None


@pytest.mark.parametrize("expression", ["* * *", "61 * * * * *", "abc * * * *", "* * * * * * *", "*/0 * * * * *"])
def test_invalid_expressions_name_the_variable(expression):
    with pytest.raises(InvalidSchedule, match="SYNC_SCHEDULE"):
        parse_schedule(expression)
