"""A price trend drawn as an inline SVG step chart, for the admin: no JavaScript, no CDN.

Prices hold between changes, so each series is drawn as steps: flat until the next point, then a
vertical jump. Where nothing was in stock the line breaks.
"""

import math
from datetime import datetime, timedelta

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from aggregator.money import format_money, money_ticks
from price_history.selectors import PriceTrend

WIDTH, HEIGHT = 760, 260
LEFT, RIGHT, TOP, BOTTOM = 90, 20, 20, 40  # margins for the axes' labels
BEST_COLOUR, AVERAGE_COLOUR = "#2e7d32", "#1565c0"


def price_trend_svg(trend: PriceTrend) -> SafeString:
    """The best and average in-stock price over the trend's period, as an <svg> element."""
    points = [*trend.points, trend.end]
    best = [(p.at, p.best_price) for p in points]
    average = [(p.at, None if p.average_price is None else float(p.average_price)) for p in points]
    values = [v for _, v in best + average if v is not None]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" class="price-trend-chart" '
        f'aria-label="Best and average in-stock price over time" style="background:#fff;font:11px sans-serif">',
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#ccc"/>',
    ]
    if not values:
        parts.append(
            f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" fill="#666">'
            "No offer was in stock in this period.</text></svg>"
        )
        return mark_safe("".join(parts))  # noqa: S308 - built from numbers and escaped text only

    low, high = min(values), max(values)
    # A margin keeps the lines off the frame; a flat line sits mid-height. The axis then runs
    # from one round amount to another (ticks round in major units: €50.00, €60.00, …).
    margin = (high - low) * 0.06 if high > low else max(1, abs(low) * 0.05)
    ticks = money_ticks(max(0, math.floor(low - margin)), math.ceil(high + margin))
    low, high = ticks[0], ticks[-1]
    start, end = trend.since.timestamp(), trend.until.timestamp()
    span = max(end - start, 1e-6)

    def x(at: datetime) -> float:
        return LEFT + (at.timestamp() - start) / span * plot_w

    def y(value: float) -> float:
        return TOP + (high - value) / (high - low) * plot_h

    for value in ticks:
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}" stroke="#eee"/>'
            f'<text x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end" fill="#444">'
            f"{escape(format_money(value))}</text>"
        )
    time_format = "%H:%M:%S" if trend.until - trend.since < timedelta(hours=1) else "%H:%M"
    for at, anchor in ((trend.since, "start"), (trend.until, "end")):
        parts.append(
            f'<text x="{x(at):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="{anchor}" fill="#444">'
            f"{escape(at.strftime(f'%Y-%m-%d {time_format}'))} UTC</text>"
        )
    parts.append(_step_path(average, x, y, AVERAGE_COLOUR, dashed=True))
    parts.append(_step_path(best, x, y, BEST_COLOUR, dashed=False))
    legend_y = HEIGHT - 8
    parts.append(
        f'<line x1="{LEFT}" x2="{LEFT + 24}" y1="{legend_y - 4}" y2="{legend_y - 4}" stroke="{BEST_COLOUR}" '
        f'stroke-width="2"/><text x="{LEFT + 30}" y="{legend_y}" fill="#222">best in-stock price</text>'
        f'<line x1="{LEFT + 170}" x2="{LEFT + 194}" y1="{legend_y - 4}" y2="{legend_y - 4}" '
        f'stroke="{AVERAGE_COLOUR}" stroke-width="2" stroke-dasharray="5 3"/>'
        f'<text x="{LEFT + 200}" y="{legend_y}" fill="#222">average in-stock price</text>'
    )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - built from numbers and escaped text only


def _step_path(series, x, y, colour: str, *, dashed: bool) -> str:
    """An SVG path holding each value until the next point; a None value breaks the line."""
    commands = []
    drawing = False
    for (at, value), (next_at, _) in zip(series, series[1:], strict=False):
        if value is None:
            drawing = False
            continue
        commands.append(f"{'V' if drawing else f'M{x(at):.1f} '}{y(value):.1f}H{x(next_at):.1f}")
        drawing = True
    if not commands:
        return ""
    dash = ' stroke-dasharray="5 3"' if dashed else ""
    return f'<path d="{"".join(commands)}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>'
