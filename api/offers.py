"""GET /products/{id}/offers: the mirrored offers, each with its prior price and the currency.

Composed here, above the apps: the offers are the offer sync's, their prior prices the price
history's (a LEFT JOIN of `PriorPrice`, worked out when each price took effect), and neither app
names the other. It reads our database only, never the offers service.
"""

import uuid
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import F
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from aggregator.params import parse_uuid, validated_query
from aggregator.schema import ERROR_RESPONSES
from api.serializers import OFFER_COLUMNS, OfferOutputSerializer
from catalogue.selectors import product_exists
from offers_sync.selectors import offer_list
from offers_sync.serializers import OfferFilterSerializer

ROW_KEYS = (*OFFER_COLUMNS, "prior_price", "prior_price_since")

# `offer_rows(product_id)` without filters, written out: the API's hottest read, where building and
# compiling the queryset costs the web process more than the database spends on the query (see
# docs/performance.md). api/tests/test_offers.py holds the two equal.
_OFFER_ROWS_SQL = (
    'SELECT o."id", o."product_id", o."price", o."items_in_stock", p."lowest_price", p."lowest_price_since" '
    'FROM "offers_sync_offer" o LEFT JOIN "price_history_priorprice" p ON p."offer_id" = o."id" '
    'WHERE o."product_id" = %s ORDER BY o."price" ASC, o."id" ASC'
)


def offer_rows(product_id: uuid.UUID, **filters) -> list[dict[str, Any]]:
    """The product's offers, cheapest first, as rows of ROW_KEYS: `offer_list(product_id, **filters)` with
    each offer's prior price (a LEFT JOIN of the price history's `PriorPrice`).

    Without filters, on PostgreSQL, through one literal SQL statement (`_OFFER_ROWS_SQL`).
    """
    if filters or connection.vendor != "postgresql":
        offers = offer_list(product_id, **filters)
        return list(
            offers.values(
                *OFFER_COLUMNS, prior_price=F("prior__lowest_price"), prior_price_since=F("prior__lowest_price_since")
            )
        )
    with connection.cursor() as cursor:
        cursor.execute(_OFFER_ROWS_SQL, [product_id])
        return [dict(zip(ROW_KEYS, row, strict=True)) for row in cursor.fetchall()]


class ProductOffersApi(APIView):
    cache_public = True  # aggregator.http_cache

    @extend_schema(
        summary="List a product's cached offers, cheapest first",
        description=(
            "Each offer carries `prior_price`: its lowest price in the `PRIOR_PRICE_DAYS` (30 by "
            "default) before its current price took effect, as the EU's price-reduction rule asks "
            "a shop to show, over the part of that period the history covers, which starts at "
            "`prior_price_since`; `null` for an offer's first price. Prices are in minor units of "
            "`currency`."
        ),
        parameters=[OfferFilterSerializer],
        responses={200: OfferOutputSerializer(many=True), **ERROR_RESPONSES},
    )
    def get(self, request, product_id):
        product_uuid = parse_uuid(product_id)
        if product_uuid is None:
            raise Http404
        if not request.query_params:
            # Offers first, in one query: only an empty answer needs a second, to tell a product
            # without offers (200 []) from a 404.
            offers = offer_rows(product_uuid)
            if not offers and not product_exists(product_uuid):
                raise Http404
        else:
            # An unknown product is a 404 before the filters are read (then a 400 if they are bad).
            if not product_exists(product_uuid):
                raise Http404
            filters = validated_query(OfferFilterSerializer, request)
            offers = offer_rows(product_uuid, **filters)
        serializer = OfferOutputSerializer(offers, many=True, context={"currency": settings.CURRENCY})
        return Response(serializer.data)
