"""The OpenAPI description of `Idempotency-Key`, for the endpoints that take it."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from aggregator.schema import ErrorSerializer
from idempotency.services import HEADER, KEY_MAX_LENGTH, KEY_PATTERN

IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    HEADER,
    {"type": "string", "minLength": 1, "maxLength": KEY_MAX_LENGTH, "pattern": KEY_PATTERN},
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "Makes a retry safe: the same key with the same body, from the same user, within 24 hours, answers "
        "exactly what the first request did (with `Idempotent-Replayed: true`) and creates nothing. "
        f"1 to {KEY_MAX_LENGTH} visible ASCII characters, e.g. a UUID. Only a success is remembered."
    ),
)

IDEMPOTENCY_RESPONSES = {
    409: OpenApiResponse(ErrorSerializer, description="A request with this Idempotency-Key is still running."),
    422: OpenApiResponse(ErrorSerializer, description="This Idempotency-Key was used with a different request."),
}
