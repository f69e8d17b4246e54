"""Shared pieces of the OpenAPI description: the error shapes every endpoint can answer with."""

from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

ErrorSerializer = inline_serializer(
    name="Error",
    fields={"detail": serializers.CharField()},
)

ValidationErrorSerializer = inline_serializer(
    name="ValidationError",
    fields={
        "field_name": serializers.ListField(
            child=serializers.CharField(), required=False, help_text="Messages per invalid field."
        )
    },
)

ERROR_RESPONSES = {
    400: OpenApiResponse(ValidationErrorSerializer, description="Invalid query parameter."),
    404: OpenApiResponse(ErrorSerializer, description="No such product (or a malformed id)."),
    503: OpenApiResponse(ErrorSerializer, description="The database is unavailable."),
}

WRITE_ERROR_RESPONSES = {
    **ERROR_RESPONSES,
    400: OpenApiResponse(ValidationErrorSerializer, description="Invalid body: field errors or malformed JSON."),
    401: OpenApiResponse(ErrorSerializer, description="No valid `Authorization: Token <key>` header."),
    413: OpenApiResponse(ErrorSerializer, description="Body over 1 MiB."),
    415: OpenApiResponse(ErrorSerializer, description="Body is not JSON."),
}
