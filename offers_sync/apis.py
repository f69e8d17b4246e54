"""HTTP endpoints for the cached offers. They read our database only, never the offers service."""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from aggregator.params import validated_query
from aggregator.schema import ERROR_RESPONSES
from catalogue.selectors import parse_product_id, product_exists
from offers_sync.selectors import offer_list
from offers_sync.serializers import OFFER_COLUMNS, OfferFilterSerializer, OfferOutputSerializer


class ProductOffersApi(APIView):
    cache_public = True  # aggregator.http_cache
    @extend_schema(
        summary="List a product's cached offers, cheapest first",
        parameters=[OfferFilterSerializer],
        responses={200: OfferOutputSerializer(many=True), **ERROR_RESPONSES},
    )
    def get(self, request, product_id):
        product_uuid = parse_product_id(product_id)
        if product_uuid is None:
            raise Http404
        if not request.query_params:
            # Offers first, in one query: only an empty answer needs a second, to tell a product
            # without offers (200 []) from a 404.
            offers = list(offer_list(product_uuid).values(*OFFER_COLUMNS))
            if not offers and not product_exists(product_uuid):
                raise Http404
        else:
            # An unknown product is a 404 before the filters are read (then a 400 if they are bad).
            if not product_exists(product_uuid):
                raise Http404
            filters = validated_query(OfferFilterSerializer, request)
            offers = list(offer_list(product_uuid, **filters).values(*OFFER_COLUMNS))
        return Response(OfferOutputSerializer(offers, many=True).data)
