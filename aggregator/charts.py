"""Axis ticks for the admin's server-drawn charts: round values, distinct labels."""

import math


def nice_step(span: float, count: int) -> float:
    """The step of about `count` intervals over `span`: 1, 2 or 5 times a power of ten."""
    raw = span / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 5):
        if multiple * magnitude >= raw:
            return multiple * magnitude
    return 10 * magnitude


def nice_ticks(low: float, high: float, count: int = 4, *, min_step: float = 0.0) -> list[float]:
    """Round ticks from at or below `low` to at or above `high`, about `count` intervals apart.

    A flat range (low == high) gets one step of room. `min_step` keeps the step at least that
    (1 for counts and for money in minor units, so every label is a different whole number).
    """
    if high < low:
        low, high = high, low
    span = high - low
    if span <= 0:
        span = max(abs(high), 1.0)
    step = max(nice_step(span, count), min_step)
    first = math.floor(low / step + 1e-9) * step
    last = math.ceil(high / step - 1e-9) * step
    if last <= first:
        last = first + step
    intervals = round((last - first) / step)
    return [_clean(first + i * step, step) for i in range(intervals + 1)]


def decimals_for(ticks: list[float]) -> int:
    """Digits after the point that tell the ticks apart (0 for whole steps, 1 for 0.5 …)."""
    if len(ticks) < 2:
        return 0
    step = abs(ticks[1] - ticks[0])
    return max(0, -math.floor(math.log10(step) + 1e-9)) if step else 0


def _clean(value: float, step: float) -> float:
    # 0.1 + 0.2 and the like: round to the step's own digits.
    return round(value, max(0, -math.floor(math.log10(step))) + 1)
