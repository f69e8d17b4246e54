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

BulkErrorSerializer = inline_serializer(
    name="BulkValidationError",
    fields={
        "errors": serializers.ListField(
            child=serializers.DictField(),
            required=False,
            help_text='Each bad item: its `index` and its field errors, e.g. `{"index": 3, "name": ["…"]}`.',
        ),
        "detail": serializers.CharField(required=False, help_text="The body is not an array of 1 to 1,000 items."),
    },
)

ERROR_RESPONSES = {
    400: OpenApiResponse(ValidationErrorSerializer, description="Invalid query parameter."),
    404: OpenApiResponse(ErrorSerializer, description="No such product (or a malformed id)."),
    429: OpenApiResponse(
        ErrorSerializer, description="Too many requests without a token from this address; see `Retry-After`."
    ),
    503: OpenApiResponse(ErrorSerializer, description="The database is unavailable; see `Retry-After`."),
}

WRITE_ERROR_RESPONSES = {
    **ERROR_RESPONSES,
    400: OpenApiResponse(ValidationErrorSerializer, description="Invalid body: field errors or malformed JSON."),
    401: OpenApiResponse(ErrorSerializer, description="No valid `Authorization: Token <key>` header."),
    413: OpenApiResponse(ErrorSerializer, description="Body over 1 MiB."),
    415: OpenApiResponse(ErrorSerializer, description="Body is not JSON."),
    429: OpenApiResponse(ErrorSerializer, description="Too many writes by this user; see `Retry-After`."),
}

FORBIDDEN_RESPONSES = {
    403: OpenApiResponse(ErrorSerializer, description="The token's user lacks the permission this write needs."),
}

RETRY_AFTER = {
    "description": "Seconds to wait before trying again.",
    "required": True,
    "schema": {"type": "integer", "minimum": 0},
}


def document_retry_after(result, generator, request, public):
    """drf-spectacular post-processing hook: every 429 and 503 answer carries `Retry-After`."""
    for path in result.get("paths", {}).values():
        for operation in path.values():
            for code, response in operation.get("responses", {}).items():
                if code in {"429", "503"}:
                    response.setdefault("headers", {})["Retry-After"] = RETRY_AFTER
    return result


# What RejectNulCharactersMiddleware refuses, as a pattern for parameters that have none.
NO_NUL_PATTERN = "^[^\\x00]*$"


def document_nul_refusal(result, generator, request, public):
    """drf-spectacular post-processing hook: no string parameter may hold a NUL (a 400 says so)."""
    for path in result.get("paths", {}).values():
        for operation in path.values():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if schema.get("type") == "string" and "pattern" not in schema and "format" not in schema:
                    schema["pattern"] = NO_NUL_PATTERN
    return result


# The reads documented with an ETag and If-None-Match (Django's ConditionalGetMiddleware).
CONDITIONAL_GET_PATHS = ("/products", "/products/{product_id}", "/products/{product_id}/offers")


def document_conditional_get(result, generator, request, public):
    """drf-spectacular post-processing hook: ETag on the 200s of the conditional reads, If-None-Match, 304."""
    for path in CONDITIONAL_GET_PATHS:
        operation = result.get("paths", {}).get(path, {}).get("get")
        if operation is None:
            continue
        operation.setdefault("parameters", []).append(
            {
                "name": "If-None-Match",
                "in": "header",
                "required": False,
                "description": "ETags the client has (a list, `*`, weak tags allowed): `304` if one matches.",
                "schema": {"type": "string"},
            }
        )
        responses = operation.setdefault("responses", {})
        responses["200"].setdefault("headers", {})["ETag"] = {
            "description": "Tag of this exact answer; send it back in If-None-Match.",
            "required": True,
            "schema": {"type": "string"},
        }
        responses["304"] = {
            "description": "Not modified: the answer is the one whose ETag was sent. No body.",
            "headers": {"ETag": {"required": True, "schema": {"type": "string"}}},
        }
    return result


def require_request_bodies(result, generator, request, public):
    """drf-spectacular post-processing hook: every operation that takes a body requires one.

    drf-spectacular marks a body optional where it cannot tell (a list, as `POST /products/bulk`
    takes, or a raw schema of several shapes, as `POST /alerts`); here no write means anything
    without one, and each refuses a missing body with a 400.
    """
    for path in result.get("paths", {}).values():
        for operation in path.values():
            if isinstance(operation, dict) and "requestBody" in operation:
                operation["requestBody"]["required"] = True
    return result
