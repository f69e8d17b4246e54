"""The price history endpoints' query parameters, and the serializers that write their answers."""

import re
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from price_history.models import PriceEvent
from price_history.selectors import (
    CHANGE_FEED_FIELDS,
    CHANGE_REASONS,
    EVENT_API_FIELDS,
    PriceSnapshot,
    bucket_count,
)
from price_history.services import price_history_cutoff

DEFAULT_TREND_PERIOD = timedelta(days=30)
INTERVALS = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
MAX_TREND_POINTS = 10_000
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# A "+" in a query string arrives as a space unless the client encoded it as %2B.
_SPACE_FOR_PLUS = re.compile(r"^(?P<head>\S+[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (?P<offset>\d{2}(?::?\d{2})?)$")
# Beyond these, arithmetic on the period (defaults, buckets) would leave Python's datetime range.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)
# A poller's clock may run a little ahead of ours: a `since` this far past our now is still allowed.
SINCE_CLOCK_SKEW = timedelta(minutes=1)


@extend_schema_field({"type": "string", "format": "date-time", "example": "2025-03-01T00:00:00Z"})
class MomentField(serializers.Field):
    """An ISO 8601 datetime, or a date meaning its first moment (`edge="start"`) or its last (`"end"`).

    A datetime without an offset is taken as UTC; every value comes back aware, in UTC.
    """

    default_error_messages = {
        "invalid": "Must be an ISO 8601 datetime (2024-05-01T12:00:00Z) or date (2024-05-01).",
        "out_of_range": "Must be from 1970 to 9998.",
    }

    def __init__(self, *, edge: str, **kwargs):
        assert edge in {"start", "end"}
        self.edge = edge
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        moment = self._parse(data)
        if not EARLIEST <= moment < LATEST:
            self.fail("out_of_range")
        return moment

    def _parse(self, data) -> datetime:
        if not isinstance(data, str):
            self.fail("invalid")
        text = _SPACE_FOR_PLUS.sub(r"\g<head>+\g<offset>", data.strip())
        try:
            if _DATE.match(text):
                day = date.fromisoformat(text)
                return datetime.combine(day, time.min if self.edge == "start" else time.max, tzinfo=UTC)
            parsed = parse_datetime(text)
            if parsed is None:
                self.fail("invalid")
            return parsed.replace(tzinfo=UTC) if timezone.is_naive(parsed) else parsed.astimezone(UTC)
        except (ValueError, OverflowError):
            self.fail("invalid")

    def to_representation(self, value):
        return value.isoformat()


class PriceEventQuerySerializer(serializers.Serializer):
    """Filters of GET /products/{id}/offers/history. Both ends of the period are included."""

    since = MomentField(
        edge="start",
        required=False,
        help_text="Events observed at or after this: an ISO 8601 datetime, or a date (its first moment, UTC).",
    )
    until = MomentField(
        edge="end",
        required=False,
        help_text="Events observed at or before this: an ISO 8601 datetime, or a date (its last moment, UTC).",
    )
    offer = serializers.UUIDField(required=False, help_text="Only this offer's events.")

    def validate(self, attrs):
        since, until = attrs.get("since"), attrs.get("until")
        if since is not None and until is not None and since > until:
            raise serializers.ValidationError({"since": ["Must not be after until."]})
        return attrs


class SinceAnyMomentField(MomentField):
    """A MomentField that takes any valid datetime: before 1970 is the beginning (no event is older),
    and past 9998 an empty feed, rather than a 400 for a question with a plain answer."""

    def to_internal_value(self, data):
        return min(max(self._parse(data), EARLIEST), LATEST)


class PriceEventChangesQuerySerializer(serializers.Serializer):
    """Filters of GET /offers/changes."""

    since = SinceAnyMomentField(
        edge="start",
        required=False,
        help_text=(
            "Start at events observed at or after this (default: the oldest kept): ISO 8601 datetime or "
            "date, within the history kept (PRICE_HISTORY_DAYS) and not in the future."
        ),
    )

    def validate_since(self, since):
        now = timezone.now()
        if since > now + SINCE_CLOCK_SKEW:
            raise serializers.ValidationError(f"Must not be in the future (it is {_moment_text(now)} now).")
        cutoff = price_history_cutoff(now=now)
        if cutoff is not None and since < cutoff:
            raise serializers.ValidationError(
                f"Must be within the history kept, the last {settings.PRICE_HISTORY_DAYS} days: "
                f"{_moment_text(cutoff)} or later."
            )
        return since


def _moment_text(moment) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


class PriceTrendQuerySerializer(serializers.Serializer):
    """Parameters of GET /products/{id}/price-trend; fills in the default period (the last 30 days)."""

    since = MomentField(
        edge="start",
        required=False,
        help_text="Start of the period, an ISO 8601 datetime or a date (its first moment, UTC). Default: 30 days "
        "before until.",
    )
    until = MomentField(
        edge="end",
        required=False,
        help_text="End of the period, an ISO 8601 datetime or a date (its last moment, UTC). Default: now.",
    )
    interval = serializers.ChoiceField(
        choices=sorted(INTERVALS),
        required=False,
        help_text="Sample the state at every whole UTC hour or day instead of listing each change.",
    )

    def validate(self, attrs):
        until = attrs.get("until") or timezone.now()
        since = attrs.get("since") or until - DEFAULT_TREND_PERIOD
        if since > until:
            raise serializers.ValidationError({"since": ["Must not be after until (by default, now)."]})
        interval = INTERVALS.get(attrs.get("interval"))
        if interval is not None and bucket_count(since=since, until=until, interval=interval) > MAX_TREND_POINTS:
            raise serializers.ValidationError(
                {"interval": [f"The period holds more than {MAX_TREND_POINTS} {attrs['interval']}s; shorten it."]}
            )
        return {"since": since, "until": until, "interval": interval}


class PriceEventOutputSerializer(serializers.ModelSerializer):
    """A price event of the product: an offer appeared, changed price or stock, or vanished."""

    currency = serializers.SerializerMethodField(help_text="ISO 4217 code of the prices (the deployment's).")

    def get_currency(self, _) -> str:
        return settings.CURRENCY

    class Meta:
        model = PriceEvent
        fields = [*EVENT_API_FIELDS, "currency"]
        read_only_fields = fields


class PriceEventChangeSerializer(PriceEventOutputSerializer):
    """A price event of any product, as the changes feed lists it."""

    product_id = serializers.UUIDField()

    class Meta(PriceEventOutputSerializer.Meta):
        fields = [*CHANGE_FEED_FIELDS, "currency"]
        read_only_fields = fields


@extend_schema_field({"type": "number", "format": "double"})
class PriceField(serializers.Field):
    """A price in minor units: a price as it is, an average (an exact fraction) to 2 decimal places."""

    def to_representation(self, value) -> int | float:
        if isinstance(value, int):
            return value
        return _two_places(value.numerator, value.denominator)


def _two_places(numerator: int, denominator: int) -> float:
    """numerator / denominator to 2 decimal places, halves away from zero, in exact integer arithmetic."""
    cents = (200 * abs(numerator) + denominator) // (2 * denominator)
    return (cents if numerator >= 0 else -cents) / 100


class PriceSnapshotSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    best_price = serializers.IntegerField(allow_null=True, help_text="Lowest price among offers in stock.")
    average_price = PriceField(
        allow_null=True, help_text="Mean price of the offers in stock, rounded to 2 decimal places."
    )
    offers_in_stock = serializers.IntegerField()

    def to_representation(self, snapshot: PriceSnapshot) -> dict:
        # Written out: a trend has a point per change in its period, and rendering each through the
        # fields above costs ten times this. The same keys and values (the schema tests hold them).
        at = snapshot.at.isoformat()
        return {
            "at": at[:-6] + "Z" if at.endswith("+00:00") else at,
            "best_price": snapshot.best_price,
            "average_price": (
                _two_places(snapshot.in_stock_total, snapshot.offers_in_stock) if snapshot.offers_in_stock else None
            ),
            "offers_in_stock": snapshot.offers_in_stock,
        }


class PriceChangeSerializer(serializers.Serializer):
    start = PriceField(allow_null=True)
    end = PriceField(allow_null=True)
    change_percent = serializers.FloatField(
        allow_null=True, help_text="(end - start) / start * 100, rounded half away from zero to 2 places."
    )
    reason = serializers.ChoiceField(
        choices=list(CHANGE_REASONS.items()),
        allow_null=True,
        help_text="Why change_percent is null; null when it is not.",
    )


class PriceTrendOutputSerializer(serializers.Serializer):
    """A `PriceTrend`."""

    product_id = serializers.UUIDField()
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    interval = serializers.SerializerMethodField()
    currency = serializers.SerializerMethodField(help_text="ISO 4217 code of the prices (the deployment's).")

    def get_currency(self, _) -> str:
        return settings.CURRENCY

    history_starts_at = serializers.DateTimeField(
        allow_null=True,
        help_text=(
            "Set when nothing was recorded for the product by since: the moment of its first recorded event, "
            "where the trend (start, points, changes) begins instead. Null when history covers since."
        ),
    )
    start = PriceSnapshotSerializer(help_text="The offers in stock at since (or at history_starts_at when set).")
    end = PriceSnapshotSerializer(help_text="The offers in stock at until.")
    best_price = PriceChangeSerializer()
    average_price = PriceChangeSerializer()
    points = PriceSnapshotSerializer(
        many=True,
        help_text=(
            "Without interval: the state at since, then each moment the best price, average price or number "
            "of offers in stock changed. With interval: the state at since, then at every whole hour or day."
        ),
    )

    @extend_schema_field(serializers.ChoiceField(choices=sorted(INTERVALS), allow_null=True))
    def get_interval(self, trend) -> str | None:
        return next((name for name, length in INTERVALS.items() if length == trend.interval), None)
