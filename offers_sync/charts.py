"""The sync status page's chart, an inline SVG drawn on the server: no JavaScript, no CDN.

Two panels over the same time axis: products synced and failed per cycle (bars), and each cycle's
duration (dots). Cycles of several workers at the same tick are drawn side by side, as they ran.
The time axis starts shortly before the first cycle when that is later than the period's start,
so a young system's cycles fill the chart instead of a sliver at its right edge.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from aggregator.charts import decimals_for, nice_ticks
from offers_sync.models import SyncRun

WIDTH, PANEL_HEIGHT, GAP = 760, 120, 36
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 24, 44
SYNCED_COLOUR, FAILED_COLOUR, DURATION_COLOUR = "#2e7d32", "#c62828", "#1565c0"


def sync_runs_svg(runs: Sequence[SyncRun], *, since: datetime, until: datetime) -> SafeString:
    """Products synced / failed and durations of `runs` (oldest first) between since and until."""
    height = TOP + 2 * PANEL_HEIGHT + GAP + BOTTOM
    plot_w = WIDTH - LEFT - RIGHT
    since = _zoomed_start(runs, since=since, until=until)
    start, span = since.timestamp(), max(until.timestamp() - since.timestamp(), 1e-6)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" '
        'role="img" class="sync-runs-chart" aria-label="Products synced and failed, and duration, per sync cycle" '
        'style="background:#fff;font:11px sans-serif">'
    ]
    top_products, top_durations = TOP, TOP + PANEL_HEIGHT + GAP
    for top, title in ((top_products, "products per cycle"), (top_durations, "cycle duration (s)")):
        parts.append(
            f'<rect x="{LEFT}" y="{top}" width="{plot_w}" height="{PANEL_HEIGHT}" fill="none" stroke="#ccc"/>'
            f'<text x="{LEFT}" y="{top - 6}" fill="#222">{title}</text>'
        )
    time_format = "%H:%M:%S" if until - since < timedelta(hours=1) else "%H:%M"
    middle = since + (until - since) / 2
    for at, anchor, text_format in (
        (since, "start", f"%Y-%m-%d {time_format} UTC"),
        (middle, "middle", time_format),
        (until, "end", f"%Y-%m-%d {time_format} UTC"),
    ):
        x = LEFT + (at.timestamp() - start) / span * plot_w
        parts.append(
            f'<text x="{x:.1f}" y="{top_durations + PANEL_HEIGHT + 16}" text-anchor="{anchor}" fill="#444">'
            f"{escape(at.strftime(text_format))}</text>"
        )
    ran = [r for r in runs if r.outcome in (SyncRun.Outcome.COMPLETED, SyncRun.Outcome.STOPPED)]
    if not ran:
        parts.append(
            f'<text x="{WIDTH / 2}" y="{top_products + PANEL_HEIGHT / 2}" text-anchor="middle" fill="#666">'
            "No cycle ran in this period.</text></svg>"
        )
        return mark_safe("".join(parts))  # noqa: S308 - built from numbers and fixed text only

    def x(run: SyncRun) -> float:
        return LEFT + (run.started_at.timestamp() - start) / span * plot_w

    product_ticks = nice_ticks(0, max(max(r.products_synced + r.products_failed for r in ran), 1), 4, min_step=1)
    duration_ticks = nice_ticks(0, max(max(r.duration_seconds for r in ran), 0.001), 4)
    most_products, longest = product_ticks[-1], duration_ticks[-1]
    bar_w = max(1.0, min(6.0, plot_w / max(len(ran), 1) * 0.8))
    parts.append(_scale(top_products, product_ticks, 0))
    parts.append(_scale(top_durations, duration_ticks, decimals_for(duration_ticks)))
    bottom_products = top_products + PANEL_HEIGHT
    for run in ran:
        left, bar_bottom = x(run) - bar_w / 2, bottom_products
        # A stacked bar: synced, failed on top.
        for count, colour in ((run.products_synced, SYNCED_COLOUR), (run.products_failed, FAILED_COLOUR)):
            bar_h = count / most_products * PANEL_HEIGHT
            if bar_h:
                parts.append(
                    f'<rect x="{left:.1f}" y="{bar_bottom - bar_h:.1f}" width="{bar_w:.1f}" '
                    f'height="{bar_h:.1f}" fill="{colour}"/>'
                )
            bar_bottom -= bar_h
        y = top_durations + PANEL_HEIGHT - run.duration_seconds / longest * PANEL_HEIGHT
        parts.append(f'<circle cx="{x(run):.1f}" cy="{y:.1f}" r="2" fill="{DURATION_COLOUR}"/>')
    legend_y = height - 8
    parts.append(
        f'<rect x="{LEFT}" y="{legend_y - 9}" width="10" height="10" fill="{SYNCED_COLOUR}"/>'
        f'<text x="{LEFT + 14}" y="{legend_y}" fill="#222">synced</text>'
        f'<rect x="{LEFT + 70}" y="{legend_y - 9}" width="10" height="10" fill="{FAILED_COLOUR}"/>'
        f'<text x="{LEFT + 84}" y="{legend_y}" fill="#222">failed</text>'
        f'<circle cx="{LEFT + 145}" cy="{legend_y - 4}" r="3" fill="{DURATION_COLOUR}"/>'
        f'<text x="{LEFT + 152}" y="{legend_y}" fill="#222">duration</text>'
    )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - built from numbers and fixed text only


def _zoomed_start(runs: Sequence[SyncRun], *, since: datetime, until: datetime) -> datetime:
    """The period's start, or a little before the first cycle when that came later."""
    if not runs or runs[0].started_at <= since:
        return since
    first = runs[0].started_at
    margin = max((until - first) / 20, timedelta(seconds=30))
    return max(since, first - margin)


def _scale(top: float, ticks: list[float], decimals: int) -> str:
    """Grid lines and labels at each tick of a panel (the last tick is the panel's top)."""
    lines = []
    highest = ticks[-1]
    for tick in ticks:
        y = top + PANEL_HEIGHT - tick / highest * PANEL_HEIGHT
        label = f"{tick:,.{decimals}f}"
        lines.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#444">{label}</text>'
        )
    return "".join(lines)
