"""HTTP endpoints for the cached offers. They read our database only, never the offers service."""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from aggregator.schema import ERROR_RESPONSES
from catalogue.selectors import parse_product_id, product_exists
from offers_sync.selectors import offer_rows_for_product
from offers_sync.serializers import OfferOutputSerializer


class ProductOffersApi(APIView):
    @extend_schema(
        summary="List a product's cached offers, cheapest first",
        responses={200: OfferOutputSerializer(many=True), **ERROR_RESPONSES},
    )
    def get(self, request, product_id):
        product_uuid = parse_product_id(product_id)
        if product_uuid is None:
            raise Http404
        # The hot path: offers first, in one query. Only an empty answer needs a second query to
        # tell "product without offers" (200 []) from "no such product" (404).
        offers = offer_rows_for_product(product_uuid)
        if not offers and not product_exists(product_uuid):
            raise Http404
        return Response(offers)
