"""What every admin page shares: money as the currency shows it, round chart ticks, times to the second."""

from datetime import UTC, datetime

import pytest
from django.template import Context, Template

from aggregator.admin_display import short_id, status_word, truncated, when
from aggregator.charts import decimals_for, nice_ticks
from aggregator.money import format_money, money_ticks


@pytest.mark.parametrize(
    ("currency", "amount", "shown", "ticks"),
    [
        # 0 minor digits: whole yen, ticks of 1,000 yen
        ("JPY", 5496, "¥5,496", ["¥2,000", "¥4,000", "¥6,000", "¥8,000"]),
        # 2 minor digits: cents, ticks of 10 euros
        ("EUR", 5496, "€54.96", ["€20.00", "€40.00", "€60.00", "€80.00"]),
        # 3 minor digits: fils, ticks of 2 dinars
        ("KWD", 5496, "KWD5.496", ["KWD2.000", "KWD4.000", "KWD6.000", "KWD8.000"]),
    ],
)
def test_prices_and_chart_ticks_in_the_deployments_currency(settings, currency, amount, shown, ticks):
    settings.CURRENCY = currency
    rendered = Template("{% load money %}{{ amount|money }}|{{ nothing|money }}").render(
        Context({"amount": amount, "nothing": None})
    )
    assert rendered == f"{shown}|—"
    assert [format_money(tick) for tick in money_ticks(2332, 7500)] == ticks


def test_money_ticks_are_round_in_major_units_and_never_the_same_twice():
    assert money_ticks(5496, 5496) == [4000, 6000]  # a flat price gets room around it
    assert money_ticks(0, 3) == [0, 1, 2, 3]  # never less than one minor unit apart
    assert money_ticks(2332, 61394) == [0, 20000, 40000, 60000, 80000]


@pytest.mark.parametrize(
    ("low", "high", "labels"),
    [
        (0, 0.12, ["0.00", "0.05", "0.10", "0.15"]),  # once "0.1 / 0.1 / 0.0"
        (0, 0.6, ["0.0", "0.2", "0.4", "0.6"]),
        (0, 31, ["0", "10", "20", "30", "40"]),
        (0, 2, ["0.0", "0.5", "1.0", "1.5", "2.0"]),
    ],
)
def test_chart_axis_labels_are_distinct(low, high, labels):
    ticks = nice_ticks(low, high)
    shown = [f"{tick:.{decimals_for(ticks)}f}" for tick in ticks]
    assert shown == labels
    assert len(set(shown)) == len(shown)


def test_times_to_the_second_and_shared_pieces_of_the_admin():
    assert when(datetime(2026, 12, 7, 16, 27, 3, tzinfo=UTC)) == "2026-12-07 16:27:03"
    assert when(None) == "—" and when(None, empty="never") == "never"
    assert short_id("0b8f3c9e-1111-2222-3333-444455556666") == (
        '<code title="0b8f3c9e-1111-2222-3333-444455556666">0b8f3c9e</code>'
    )
    long = "offers service answered 503: " + "x" * 100
    assert truncated(long, 40).startswith(f'<span title="{long}">') and "…" in truncated(long, 40)
    assert truncated("short") == "short" and truncated("") == "—"
    assert ">failing</strong>" in status_word("failing", "error") and "#c62828" in status_word("failing", "error")
