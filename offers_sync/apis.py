"""HTTP endpoints for the cached offers. They read our database only, never the offers service."""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from aggregator.conditional import ConditionalGetMixin
from aggregator.params import validated_query
from aggregator.schema import ERROR_RESPONSES
from catalogue.selectors import parse_product_id, product_exists
from offers_sync.selectors import offer_list_for_product, offer_rows_for_product
from offers_sync.serializers import OfferFilterSerializer, OfferOutputSerializer


class ProductOffersApi(ConditionalGetMixin, APIView):
    @extend_schema(
        summary="List a product's cached offers, cheapest first",
        parameters=[OfferFilterSerializer],
        responses={200: OfferOutputSerializer(many=True), **ERROR_RESPONSES},
    )
    def get(self, request, product_id):
        product_uuid = parse_product_id(product_id)
        if product_uuid is None:
            raise Http404
        if request.query_params:
            # Filters: an unknown product is a 404 before they are read (then a 400 if they are bad).
            if not product_exists(product_uuid):
                raise Http404
            filters = validated_query(OfferFilterSerializer, request)
            return Response(list(offer_list_for_product(product_uuid, **filters)))
        # The hot path, no query string: offers first, in one query with SQL compiled once. Only an
        # empty answer needs a second query, to tell a product without offers (200 []) from a 404.
        offers = offer_rows_for_product(product_uuid)
        if not offers and not product_exists(product_uuid):
            raise Http404
        return Response(offers)
