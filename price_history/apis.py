"""HTTP endpoints for a product's price history and price trend. Thin: parameters here, reads in selectors."""

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from aggregator.pagination import KeysetLinkPagination
from aggregator.params import validated_query
from aggregator.schema import ERROR_RESPONSES
from catalogue.models import Product
from price_history.selectors import TooManyEvents, price_event_changes, price_event_list, price_trend_get
from price_history.serializers import (
    PriceEventChangeSerializer,
    PriceEventChangesQuerySerializer,
    PriceEventOutputSerializer,
    PriceEventQuerySerializer,
    PriceTrendOutputSerializer,
    PriceTrendQuerySerializer,
)


def _bigint(raw: str) -> int:
    """A cursor's event id or transaction id: a whole number a 64-bit column holds."""
    # Within the column's range: a larger integer is an OverflowError in SQLite's driver.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19 or int(raw) >= 2**63:
        raise ValueError("not a 64-bit id")
    return int(raw)


class PriceEventPagination(KeysetLinkPagination):
    """Events page on (observed_at, id); their ids are integers, not the UUIDs the base class reads."""

    ordering_field = "observed_at"
    parse_id = staticmethod(_bigint)


class PriceEventChangesPagination(PriceEventPagination):
    """The changes feed pages on (xact_id, id), and every page links the next, also an empty one.

    A consumer polls by following `next` forever: after the last event it points just past it, and
    on an empty first page it is the request itself.
    """

    ordering_field = "xact_id"
    parse_value = staticmethod(_bigint)
    encode_value = staticmethod(str)

    def paginate_queryset(self, queryset, request, view=None):
        rows = super().paginate_queryset(queryset, request, view)
        if self.next_cursor is None:
            self.next_cursor = self._encode(rows[-1]) if rows else request.query_params.get(self.cursor_query_param)
        return rows

    def get_paginated_response(self, data):
        response = super().get_paginated_response(data)
        if not response.has_header("Link"):
            response["Link"] = f'<{self.request.build_absolute_uri()}>; rel="next"'
        return response


HISTORY_EXAMPLE = [
    {
        "id": 41,
        "offer_id": "0885aab1-4da3-54c2-f626-acc74bab381e",
        "kind": "appeared",
        "price": 12990,
        "items_in_stock": 4,
        "observed_at": "2025-03-01T09:00:00Z",
    },
    {
        "id": 57,
        "offer_id": "0885aab1-4da3-54c2-f626-acc74bab381e",
        "kind": "changed",
        "price": 11990,
        "items_in_stock": 0,
        "observed_at": "2025-03-02T09:00:30Z",
    },
    {
        "id": 63,
        "offer_id": "0885aab1-4da3-54c2-f626-acc74bab381e",
        "kind": "vanished",
        "price": 11990,
        "items_in_stock": 0,
        "observed_at": "2025-03-02T12:30:00Z",
    },
]

TREND_EXAMPLE = {
    "product_id": "49c03251-e6f5-415e-b3b7-6bf187dbfad8",
    "since": "2025-03-01T00:00:00Z",
    "until": "2025-03-31T23:59:59.999999Z",
    "interval": None,
    "history_starts_at": None,
    "start": {"at": "2025-03-01T00:00:00Z", "best_price": 12990, "average_price": 13990.0, "offers_in_stock": 2},
    "end": {"at": "2025-03-31T23:59:59.999999Z", "best_price": 11990, "average_price": 12740.0, "offers_in_stock": 2},
    "best_price": {"start": 12990, "end": 11990, "change_percent": -7.7, "reason": None},
    "average_price": {"start": 13990.0, "end": 12740.0, "change_percent": -8.93, "reason": None},
    "points": [
        {"at": "2025-03-01T00:00:00Z", "best_price": 12990, "average_price": 13990.0, "offers_in_stock": 2},
        {"at": "2025-03-05T09:00:30Z", "best_price": 11990, "average_price": 13490.0, "offers_in_stock": 2},
        {"at": "2025-03-10T13:00:00Z", "best_price": 11990, "average_price": 11990.0, "offers_in_stock": 1},
        {"at": "2025-03-13T08:00:00Z", "best_price": 11990, "average_price": 12740.0, "offers_in_stock": 2},
    ],
}

TREND_HISTORY_STARTS_LATER_EXAMPLE = {
    **TREND_EXAMPLE,
    "history_starts_at": "2025-03-05T09:00:30Z",
    "start": {"at": "2025-03-05T09:00:30Z", "best_price": 11990, "average_price": 13490.0, "offers_in_stock": 2},
    "best_price": {"start": 11990, "end": 11990, "change_percent": 0.0, "reason": None},
    "average_price": {"start": 13490.0, "end": 12740.0, "change_percent": -5.56, "reason": None},
    "points": [
        {"at": "2025-03-05T09:00:30Z", "best_price": 11990, "average_price": 13490.0, "offers_in_stock": 2},
        {"at": "2025-03-13T08:00:00Z", "best_price": 11990, "average_price": 12740.0, "offers_in_stock": 2},
    ],
}


class PriceEventListApi(generics.GenericAPIView):
    cache_public = True  # aggregator.http_cache
    pagination_class = PriceEventPagination
    serializer_class = PriceEventOutputSerializer

    @extend_schema(
        summary="List a product's price events, oldest first",
        description=(
            "One event per offer each time the sync saw it appear, change price or stock, or vanish "
            "(a vanished event carries the offer's last known price and stock). Unchanged offers record "
            "nothing. A JSON array of at most `limit` events; when there are more, the response has a "
            '`Link: <…>; rel="next"` header with the URL of the next page. A date in `since` means its '
            "first moment (UTC), in `until` its last. Events older than the retention period "
            "(`PRICE_HISTORY_DAYS`) are pruned."
        ),
        parameters=[PriceEventQuerySerializer],
        responses={200: PriceEventOutputSerializer(many=True), **ERROR_RESPONSES},
        examples=[
            OpenApiExample(
                "An offer appears, sells out, vanishes",
                value=HISTORY_EXAMPLE,
                response_only=True,
                status_codes=["200"],
            )
        ],
    )
    def get(self, request, product_id):
        product = generics.get_object_or_404(Product, pk=product_id)
        filters = validated_query(PriceEventQuerySerializer, request)
        events = price_event_list(
            product_id=product.id,
            since=filters.get("since"),
            until=filters.get("until"),
            offer_id=filters.get("offer"),
        )
        return self.get_paginated_response(self.get_serializer(self.paginate_queryset(events), many=True).data)


FEED_ERROR_RESPONSES = {code: answer for code, answer in ERROR_RESPONSES.items() if code != 404}


class PriceEventChangesApi(generics.GenericAPIView):
    cache_public = True  # aggregator.http_cache
    pagination_class = PriceEventChangesPagination
    serializer_class = PriceEventChangeSerializer

    @extend_schema(
        summary="Every product's price events, in the order they were committed",
        description=(
            "A changes feed for mirroring: every recorded price event of every product, oldest first, at most "
            '`limit` per page. Every page, also an empty or short one, has a `Link: <…>; rel="next"` header: '
            "follow it forever to see each event exactly once, including events of slow transactions that "
            "committed after later ones (an event is served only once every transaction that could still add an "
            "earlier one has ended). `since` starts at a time instead of the oldest event kept."
        ),
        parameters=[PriceEventChangesQuerySerializer],
        responses={
            200: PriceEventChangeSerializer(many=True),
            **FEED_ERROR_RESPONSES,
        },
    )
    def get(self, request):
        # Not validated_query, which reads a blank value as no filter: a poller's `since=` is a mistake.
        query = PriceEventChangesQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        filters = query.validated_data
        rows = self.paginate_queryset(price_event_changes(since=filters.get("since")))
        return self.get_paginated_response(self.get_serializer(rows, many=True).data)


class PriceTrendApi(APIView):
    cache_public = True  # aggregator.http_cache

    @extend_schema(
        summary="A product's price trend over a period",
        description=(
            "The best (lowest in-stock) price and the average in-stock price at the start and at the end "
            "of the period, their change in percent (a rise is positive, a fall negative), and the points "
            "in between. The period defaults to the 30 days up to now; a date in `since` means its first "
            "moment (UTC), in `until` its last; a datetime without an offset is UTC. When the product's "
            "history begins inside the period, the trend starts at its first recorded event instead "
            "(`history_starts_at` says when; `start`, the first point and the changes are taken there). "
            "When there is too little history (nothing recorded by `until`, or nothing in stock at either "
            "end) a change is `null` and `reason` says why. Prices are in minor currency units. A period "
            "holding more than `PRICE_TREND_MAX_EVENTS` price events (by default 100,000) is refused with a 400."
        ),
        parameters=[PriceTrendQuerySerializer],
        responses={
            200: OpenApiResponse(
                PriceTrendOutputSerializer,
                examples=[
                    OpenApiExample("Prices fell", value=TREND_EXAMPLE),
                    OpenApiExample("History starts within the period", value=TREND_HISTORY_STARTS_LATER_EXAMPLE),
                ],
            ),
            **ERROR_RESPONSES,
        },
    )
    def get(self, request, product_id):
        product = generics.get_object_or_404(Product, pk=product_id)
        params = validated_query(PriceTrendQuerySerializer, request)
        try:
            trend = price_trend_get(product_id=product.id, max_events=settings.PRICE_TREND_MAX_EVENTS, **params)
        except TooManyEvents as exc:
            raise ValidationError(
                {"since": [f"The period holds more than {exc.limit} price events; ask for a shorter one."]}
            ) from None
        return Response(PriceTrendOutputSerializer(trend).data)
