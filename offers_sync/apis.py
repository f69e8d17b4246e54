"""HTTP endpoints for the cached offers. They read our database only, never the offers service."""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from aggregator.params import validated_query
from aggregator.schema import ERROR_RESPONSES
from catalogue.selectors import product_get
from offers_sync.selectors import offer_list_for_product
from offers_sync.serializers import OfferFilterSerializer, OfferOutputSerializer


class ProductOffersApi(APIView):
    @extend_schema(
        summary="List a product's cached offers, cheapest first",
        parameters=[OfferFilterSerializer],
        responses={200: OfferOutputSerializer(many=True), **ERROR_RESPONSES},
    )
    def get(self, request, product_id):
        product = product_get(product_id)
        if product is None:
            raise Http404
        filters = validated_query(OfferFilterSerializer, request)
        return Response(list(offer_list_for_product(product.id, **filters)))
