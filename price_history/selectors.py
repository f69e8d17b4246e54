"""Reads of the price history: a product's events, and its price trend over a period.

The trend reconstructs "the offers as they stood at time t" from the events: for each offer, its
latest event at or before t; a vanished offer is gone, and an offer with no items in stock is not
counted. Two queries do the work: the state at the start of the period (the latest event per offer,
picked by a window function in SQL), then the period's events in order, which one pass in Python
replays to produce the points and the end state.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import NamedTuple

from django.db import connection
from django.db.models import F, QuerySet, Window
from django.db.models.expressions import RawSQL
from django.db.models.functions import RowNumber

from aggregator.pagination import keyset_page
from price_history.models import PriceEvent

EVENT_API_FIELDS = ("id", "offer_id", "kind", "price", "items_in_stock", "observed_at")

CHANGE_FEED_FIELDS = ("id", "product_id", "offer_id", "kind", "price", "items_in_stock", "observed_at")

# Why a change in percent is null.
NO_HISTORY_AT_START = "no_history_at_start"
NONE_IN_STOCK_AT_START = "none_in_stock_at_start"
NONE_IN_STOCK_AT_END = "none_in_stock_at_end"
ZERO_PRICE_AT_START = "zero_price_at_start"
CHANGE_REASONS = {
    NO_HISTORY_AT_START: "Nothing was recorded for the product by the end of the period.",
    NONE_IN_STOCK_AT_START: "No offer was in stock at the start of the period (sold out or gone).",
    NONE_IN_STOCK_AT_END: "No offer was in stock at the end of the period (sold out or gone).",
    ZERO_PRICE_AT_START: "The price at the start was 0, so a change in percent is undefined.",
}

_VANISHED = PriceEvent.Kind.VANISHED.value
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Events read per query while replaying a period (see `_events_in_order`).
EVENT_CHUNK = 20_000


class TooManyEvents(Exception):
    """The period holds more events than the caller allows to replay."""

    def __init__(self, limit: int):
        super().__init__(f"more than {limit} price events in the period")
        self.limit = limit


def price_event_list(
    *,
    product_id: uuid.UUID,
    since: datetime | None = None,
    until: datetime | None = None,
    offer_id: uuid.UUID | None = None,
) -> QuerySet:
    """The product's events as plain dicts, in the period (both ends included); pagination orders them."""
    events = PriceEvent.objects.filter(product_id=product_id)
    if since is not None:
        events = events.filter(observed_at__gte=since)
    if until is not None:
        events = events.filter(observed_at__lte=until)
    if offer_id is not None:
        events = events.filter(offer_id=offer_id)
    return events.values(*EVENT_API_FIELDS)


class PriceSnapshot(NamedTuple):
    """The in-stock offers at one moment, summed up. Prices are None when nothing was in stock."""

    at: datetime
    best_price: int | None
    in_stock_total: int  # sum of the in-stock offers' prices; with the count, the exact average
    offers_in_stock: int

    @property
    def average_price(self) -> Fraction | None:
        return Fraction(self.in_stock_total, self.offers_in_stock) if self.offers_in_stock else None


@dataclass(frozen=True)
class PriceChange:
    """A price at the start and the end of a period, and the change in percent (or why there is none)."""

    start: int | Fraction | None
    end: int | Fraction | None
    change_percent: Decimal | None
    reason: str | None


@dataclass(frozen=True)
class PriceTrend:
    product_id: uuid.UUID
    since: datetime
    until: datetime
    interval: timedelta | None
    start: PriceSnapshot
    end: PriceSnapshot
    best_price: PriceChange
    average_price: PriceChange
    points: list[PriceSnapshot]
    # When the period began before anything was recorded: the first event, where the trend starts.
    history_starts_at: datetime | None = None


class _Book:
    """The offers in stock at the current point of the replay, with a running total for the average."""

    def __init__(self):
        self.prices: dict = {}  # offer id -> price, for offers in stock only
        self.total = 0
        self._best: int | None = None
        self._best_stale = False

    def apply(self, offer_id, kind: str, price: int, items_in_stock: int) -> None:
        old = self.prices.pop(offer_id, None)
        if old is not None:
            self.total -= old
            if old == self._best:
                self._best_stale = True  # recomputed only when asked for, not on every event
        if kind != _VANISHED and items_in_stock > 0:
            self.prices[offer_id] = price
            self.total += price
            if not self._best_stale and (self._best is None or price < self._best):
                self._best = price

    def state(self) -> tuple[int | None, int, int]:
        """(best price, total of prices, offers in stock): equal states look the same to a consumer."""
        if self._best_stale:
            self._best = min(self.prices.values(), default=None)
            self._best_stale = False
        return self._best, self.total, len(self.prices)

    def snapshot(self, at: datetime) -> PriceSnapshot:
        return PriceSnapshot(at, *self.state())


def price_event_changes(*, since: datetime | None = None) -> QuerySet:
    """Every product's price events in commit order, as `.values()` rows with `xact_id` (the feed's key).

    On PostgreSQL ids are handed out at insert, not at commit, so a slow transaction can commit an
    event with a lower id after a higher one was read. Events are therefore ordered by the id of
    the transaction that wrote them, and only events of transactions older than every transaction
    still running are served (`pg_snapshot_xmin`): no event can later appear before what was served.
    SQLite has a single writer whose ids are in commit order already (every `xact_id` is 0).
    """
    events = PriceEvent.objects.all()
    if since is not None:
        events = events.filter(observed_at__gte=since)
    if connection.vendor == "postgresql":
        events = events.filter(xact_id__lt=RawSQL("pg_snapshot_xmin(pg_current_snapshot())::text::bigint", []))
    return events.values(*CHANGE_FEED_FIELDS, "xact_id")


def price_trend_get(
    *,
    product_id: uuid.UUID,
    since: datetime,
    until: datetime,
    interval: timedelta | None = None,
    max_events: int | None = None,
) -> PriceTrend:
    """The product's prices at `since` and at `until`, their change, and the points in between.

    When nothing was recorded by `since` but something was within the period, the trend starts at
    the first event instead (`history_starts_at`): `start`, the first point and the changes in
    percent are taken there. Only a product with no event at all by `until` has no history.

    Without `interval`, the first point is the state at `since` and each further point is a moment
    in the period at which the best price, the average price or the number of offers in stock
    changed. With `interval`, the points are the state at `since` and then at every multiple of the
    interval since the Unix epoch (whole UTC hours or days) up to `until`.

    The period's events are replayed one by one, so the work grows with them: past `max_events`
    in the period this raises TooManyEvents, having read no more than that many.
    """
    requested_since = since
    book = _Book()
    history_starts_at = None
    start_rows = _latest_event_per_offer(product_id=product_id, at=since)
    if not start_rows:
        # Nothing recorded by `since`: start at the first event in the period, if there is one, as
        # the admin chart does; `since` stays as asked and `history_starts_at` says where it began.
        history_starts_at = (
            PriceEvent.objects.filter(product_id=product_id, observed_at__gt=since, observed_at__lte=until)
            .order_by("observed_at", "id")
            .values_list("observed_at", flat=True)
            .first()
        )
        if history_starts_at is not None:
            since = history_starts_at
            start_rows = _latest_event_per_offer(product_id=product_id, at=since)
    for offer_id, kind, price, items_in_stock in start_rows:
        book.apply(offer_id, kind, price, items_in_stock)
    start = book.snapshot(since)

    events = _events_in_order(product_id=product_id, since=since, until=until, max_events=max_events)
    points = [start]
    if interval is None:
        _replay_changes(book, events, points)
    else:
        _replay_sampled(book, events, points, since=since, until=until, interval=interval)
    end = book.snapshot(until)

    has_history = bool(start_rows)
    return PriceTrend(
        product_id=product_id,
        since=requested_since,
        until=until,
        interval=interval,
        start=start,
        end=end,
        best_price=_change(start.best_price, end.best_price, has_history=has_history),
        average_price=_change(start.average_price, end.average_price, has_history=has_history),
        points=points,
        history_starts_at=history_starts_at,
    )


def _events_in_order(*, product_id: uuid.UUID, since: datetime, until: datetime, max_events: int | None):
    """The events in (since, until] in order: (offer id, kind, price, items_in_stock, observed_at).

    Read EVENT_CHUNK rows per keyset page. Not `.iterator()`: on PostgreSQL that is a server-side
    cursor, a round trip per fetch plus its own set-up, which a busy database turns into waiting.
    """
    events = PriceEvent.objects.filter(product_id=product_id, observed_at__gt=since, observed_at__lte=until)
    events = events.values_list("offer_id", "kind", "price", "items_in_stock", "observed_at", "id")
    after, read = None, 0
    while True:
        chunk = EVENT_CHUNK if max_events is None else min(EVENT_CHUNK, max_events - read + 1)
        rows = keyset_page(events, "observed_at", after=after, limit=chunk)
        read += len(rows)
        if max_events is not None and read > max_events:
            raise TooManyEvents(max_events)
        for row in rows:
            yield row[:5]
        if len(rows) < chunk:
            return
        after = rows[-1][4:]


def _latest_event_per_offer(*, product_id: uuid.UUID, at: datetime) -> list[tuple]:
    """Each offer's latest event at or before `at`: (offer id, kind, price, items_in_stock).

    Vanished offers are among them (their last event says so); the caller drops them. Filtering
    on the kind here would be wrong: it would bring back the event before the vanishing.
    """
    latest_first = Window(
        RowNumber(),
        partition_by=[F("offer_id")],
        order_by=[F("observed_at").desc(), F("id").desc()],
    )
    return list(
        PriceEvent.objects.filter(product_id=product_id, observed_at__lte=at)
        .annotate(recency=latest_first)
        .filter(recency=1)
        .values_list("offer_id", "kind", "price", "items_in_stock")
    )


def _replay_changes(book: _Book, events, points: list[PriceSnapshot]) -> None:
    """Apply events moment by moment; add a point whenever what a consumer sees has changed."""
    last = points[-1][1:]
    pending_at = None
    for offer_id, kind, price, items_in_stock, observed_at in events:
        if observed_at != pending_at and pending_at is not None:
            state = book.state()
            if state != last:
                points.append(PriceSnapshot(pending_at, *state))
                last = state
        book.apply(offer_id, kind, price, items_in_stock)
        pending_at = observed_at
    if pending_at is not None and (state := book.state()) != last:
        points.append(PriceSnapshot(pending_at, *state))


def _replay_sampled(book: _Book, events, points, *, since: datetime, until: datetime, interval: timedelta) -> None:
    """Apply events in order and take the state at each boundary of the interval."""
    pending = next(events, None)
    for sample_at in bucket_boundaries(since=since, until=until, interval=interval):
        while pending is not None and pending[4] <= sample_at:
            book.apply(*pending[:4])
            pending = next(events, None)
        points.append(book.snapshot(sample_at))
    while pending is not None:  # events after the last boundary still count for the end state
        book.apply(*pending[:4])
        pending = next(events, None)


def bucket_boundaries(*, since: datetime, until: datetime, interval: timedelta):
    """Multiples of `interval` since the Unix epoch that lie in (since, until]."""
    steps = (since - _EPOCH) // interval + 1
    boundary = _EPOCH + steps * interval
    while boundary <= until:
        yield boundary
        boundary += interval


def bucket_count(*, since: datetime, until: datetime, interval: timedelta) -> int:
    """How many points `interval` would produce for the period (to refuse absurd requests early)."""
    return max(0, (until - _EPOCH) // interval - (since - _EPOCH) // interval) + 1


def _change(start, end, *, has_history: bool) -> PriceChange:
    if start is None:
        reason = NONE_IN_STOCK_AT_START if has_history else NO_HISTORY_AT_START
    elif end is None:
        reason = NONE_IN_STOCK_AT_END
    elif start == 0:
        reason = ZERO_PRICE_AT_START
    else:
        percent = Fraction(end - start) * 100 / start
        return PriceChange(start=start, end=end, change_percent=round_half_up(percent, 2), reason=None)
    return PriceChange(start=start, end=end, change_percent=None, reason=reason)


def round_half_up(value: Fraction | int, places: int) -> Decimal:
    """Round exactly, halves away from zero (12.345 -> 12.35, -12.345 -> -12.35), not to even."""
    value = Fraction(value)
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


CHART_PERIOD = timedelta(days=30)
CHART_MAX_POINTS = 400


def price_trend_for_chart(*, product_id: uuid.UUID, now: datetime) -> PriceTrend | None:
    """The trend the admin charts: the last 30 days, or since the first event if that is later.

    Starting at the first event keeps a new product's few minutes of history from being squeezed
    into the right edge of a month. A busy period is sampled at about CHART_MAX_POINTS moments.
    None when nothing has been recorded for the product.
    """
    since = now - CHART_PERIOD
    events = PriceEvent.objects.filter(product_id=product_id)
    if not events.filter(observed_at__lt=since).exists():
        first = events.order_by("observed_at", "id").values_list("observed_at", flat=True).first()
        if first is None:
            return None
        since = min(first, now)
    interval = None
    if events.filter(observed_at__gt=since).count() > CHART_MAX_POINTS:
        interval = max((now - since) / CHART_MAX_POINTS, timedelta(seconds=1))
    return price_trend_get(product_id=product_id, since=since, until=now, interval=interval)


def price_event_latest(*, product_id: uuid.UUID, limit: int = 20) -> list[PriceEvent]:
    """The product's most recent events, newest first."""
    return list(PriceEvent.objects.filter(product_id=product_id).order_by("-observed_at", "-id")[:limit])
