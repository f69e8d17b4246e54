"""HTTP endpoints for webhook endpoints, their deliveries, and alerts. Thin: rules are in services.

Everything needs a token, and each endpoint and alert is its owner's alone: another user's is 404.
"""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from aggregator.pagination import KeysetLinkPagination
from aggregator.params import parse_uuid, validated_body
from aggregator.responses import created
from aggregator.schema import ERROR_RESPONSES, WRITE_ERROR_RESPONSES, ErrorSerializer
from alerts.addresses import UnsafeUrl
from alerts.selectors import alert_list, delivery_list, endpoint_list
from alerts.serializers import (
    PRICE_MAX,
    AlertInputSerializer,
    AlertOutputSerializer,
    DeliveryOutputSerializer,
    EndpointCreatedSerializer,
    EndpointInputSerializer,
    EndpointOutputSerializer,
    EndpointUpdateSerializer,
)
from alerts.services import (
    EndpointDisabled,
    LimitReached,
    alert_create,
    alert_delete,
    endpoint_create,
    endpoint_delete,
    endpoint_ping,
    endpoint_update,
)
from catalogue.models import Product

_ALERT_COMMON = {
    "webhook_id": {"type": "string", "format": "uuid"},
    "product_id": {"type": "string", "format": "uuid", "nullable": True, "description": "null: every product"},
}
# One shape per kind: the threshold's meaning and range depend on it.
ALERT_INPUT_SCHEMA = {
    "oneOf": [
        {
            "type": "object",
            "required": ["webhook_id", "product_id", "kind", "threshold"],
            "properties": {
                **_ALERT_COMMON,
                "kind": {"type": "string", "enum": ["price_below"]},
                "threshold": {"type": "integer", "minimum": 0, "maximum": PRICE_MAX, "description": "minor units"},
            },
        },
        {
            "type": "object",
            "required": ["webhook_id", "product_id", "kind", "threshold"],
            "properties": {
                **_ALERT_COMMON,
                "kind": {"type": "string", "enum": ["price_drop"]},
                "threshold": {"type": "integer", "minimum": 1, "maximum": 99, "description": "percent"},
            },
        },
        {
            "type": "object",
            "required": ["webhook_id", "product_id", "kind"],
            "properties": {
                **_ALERT_COMMON,
                "kind": {"type": "string", "enum": ["back_in_stock", "out_of_stock"]},
                "threshold": {"type": "integer", "nullable": True, "enum": [None]},
            },
        },
    ]
}

LIMIT_REACHED = OpenApiResponse(
    ErrorSerializer, description="You have as many as a per-user limit allows; the message names the limit."
)

# Reads need a token here too.
READ_RESPONSES = {**ERROR_RESPONSES, 401: WRITE_ERROR_RESPONSES[401]}


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class NewestFirst(KeysetLinkPagination):
    descending = True


class OwnedApi(generics.GenericAPIView):
    permission_classes = [IsAuthenticated]

    def get_endpoint(self):
        return generics.get_object_or_404(endpoint_list(owner=self.request.user), pk=self.kwargs["webhook_id"])


@extend_schema_view(
    get=extend_schema(
        summary="List your webhook endpoints, oldest first",
        responses={200: EndpointOutputSerializer(many=True), **READ_RESPONSES},
    ),
    post=extend_schema(
        summary="Add a webhook endpoint",
        description="The answer holds the signing `secret`; it is never shown again.",
        request=EndpointInputSerializer,
        responses={201: EndpointCreatedSerializer, 409: LIMIT_REACHED, **WRITE_ERROR_RESPONSES},
    ),
)
class WebhookListCreateApi(OwnedApi):
    pagination_class = KeysetLinkPagination
    serializer_class = EndpointOutputSerializer

    def get(self, request):
        page = self.paginate_queryset(endpoint_list(owner=request.user))
        return self.get_paginated_response(EndpointOutputSerializer(page, many=True).data)

    def post(self, request):
        data = validated_body(EndpointInputSerializer, request)
        try:
            endpoint = endpoint_create(owner=request.user, url=data["url"], description=data.get("description"))
        except UnsafeUrl as exc:
            raise ValidationError({"url": [str(exc)]}) from None
        except LimitReached as exc:
            raise Conflict(str(exc)) from None
        return created(EndpointCreatedSerializer(endpoint).data, f"/webhooks/{endpoint.id}")


@extend_schema_view(
    get=extend_schema(summary="Get a webhook endpoint", responses={200: EndpointOutputSerializer, **READ_RESPONSES}),
    patch=extend_schema(
        summary="Change an endpoint's url, description or is_active (true re-enables it)",
        request=EndpointUpdateSerializer(partial=True),
        responses={200: EndpointOutputSerializer, **WRITE_ERROR_RESPONSES},
    ),
    delete=extend_schema(
        summary="Delete an endpoint with its alerts and deliveries",
        responses={204: OpenApiResponse(description="Deleted."), **WRITE_ERROR_RESPONSES},
    ),
)
class WebhookDetailApi(OwnedApi):
    serializer_class = EndpointOutputSerializer

    def get(self, request, webhook_id):
        return Response(EndpointOutputSerializer(self.get_endpoint()).data)

    def patch(self, request, webhook_id):
        endpoint = self.get_endpoint()
        data = validated_body(EndpointUpdateSerializer, request, partial=True)
        try:
            endpoint = endpoint_update(endpoint=endpoint, data=data)
        except UnsafeUrl as exc:
            raise ValidationError({"url": [str(exc)]}) from None
        return Response(EndpointOutputSerializer(endpoint).data)

    def delete(self, request, webhook_id):
        endpoint_delete(endpoint=self.get_endpoint())
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    post=extend_schema(
        summary="Send a webhook.ping event to the endpoint",
        request=None,
        responses={
            202: DeliveryOutputSerializer,
            409: OpenApiResponse(ErrorSerializer, description="The endpoint is disabled: enable it first."),
            **WRITE_ERROR_RESPONSES,
        },
    )
)
class WebhookPingApi(OwnedApi):
    serializer_class = DeliveryOutputSerializer

    def post(self, request, webhook_id):
        try:
            delivery = endpoint_ping(endpoint=self.get_endpoint())
        except EndpointDisabled as exc:
            raise Conflict(str(exc)) from None
        delivery = delivery_list(endpoint=delivery.endpoint_id).get(pk=delivery.pk)
        return Response(DeliveryOutputSerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


@extend_schema_view(
    get=extend_schema(
        summary="List an endpoint's deliveries, newest first",
        responses={200: DeliveryOutputSerializer(many=True), **READ_RESPONSES},
    )
)
class WebhookDeliveryListApi(OwnedApi):
    pagination_class = NewestFirst
    serializer_class = DeliveryOutputSerializer

    def get(self, request, webhook_id):
        page = self.paginate_queryset(delivery_list(endpoint=self.get_endpoint()))
        return self.get_paginated_response(DeliveryOutputSerializer(page, many=True).data)


@extend_schema_view(
    get=extend_schema(
        summary="List your alerts, oldest first",
        parameters=[
            OpenApiParameter("product_id", {"type": "string", "format": "uuid"}, description="Only this product's.")
        ],
        responses={200: AlertOutputSerializer(many=True), **READ_RESPONSES},
    ),
    post=extend_schema(
        summary="Add an alert",
        description="`product_id` null: every product. See docs/alerts.md for the kinds.",
        request={"application/json": ALERT_INPUT_SCHEMA},
        responses={201: AlertOutputSerializer, 409: LIMIT_REACHED, **WRITE_ERROR_RESPONSES},
    ),
)
class AlertListCreateApi(OwnedApi):
    pagination_class = KeysetLinkPagination
    serializer_class = AlertOutputSerializer

    def get(self, request):
        raw = request.query_params.get("product_id")
        product_id = None
        if raw is not None:
            product_id = parse_uuid(raw)
            if product_id is None:
                raise ValidationError({"product_id": ["Must be a valid UUID."]})
        page = self.paginate_queryset(alert_list(owner=request.user, product_id=product_id))
        return self.get_paginated_response(AlertOutputSerializer(page, many=True).data)

    def post(self, request):
        data = validated_body(AlertInputSerializer, request)
        # Well-formed ids of things that are not there (or not yours) are 404, like their own URLs.
        endpoint = endpoint_list(owner=request.user).filter(pk=data["webhook_id"]).first()
        if endpoint is None:
            raise NotFound("No such webhook endpoint.")
        product = None
        if data["product_id"] is not None:
            product = Product.objects.filter(pk=data["product_id"]).first()
            if product is None:
                raise NotFound("No such product.")
        try:
            alert = alert_create(
                owner=request.user, endpoint=endpoint, product=product, kind=data["kind"], threshold=data["threshold"]
            )
        except LimitReached as exc:
            raise Conflict(str(exc)) from None
        return created(AlertOutputSerializer(alert).data, f"/alerts/{alert.id}")


@extend_schema_view(
    get=extend_schema(summary="Get an alert", responses={200: AlertOutputSerializer, **READ_RESPONSES}),
    delete=extend_schema(
        summary="Delete an alert", responses={204: OpenApiResponse(description="Deleted."), **WRITE_ERROR_RESPONSES}
    ),
)
class AlertDetailApi(OwnedApi):
    serializer_class = AlertOutputSerializer

    def get_alert(self):
        return generics.get_object_or_404(alert_list(owner=self.request.user), pk=self.kwargs["alert_id"])

    def get(self, request, alert_id):
        return Response(AlertOutputSerializer(self.get_alert()).data)

    def delete(self, request, alert_id):
        alert_delete(alert=self.get_alert())
        return Response(status=status.HTTP_204_NO_CONTENT)
