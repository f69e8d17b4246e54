"""GET /health: is this process able to serve, and how fresh is the sync?"""

import logging

from django.db import DatabaseError
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from aggregator.exceptions import DATABASE_RETRY_AFTER_SECONDS
from offers_sync.selectors import last_sync_finished_at

logger = logging.getLogger(__name__)


# The answer's shape, and what renders it: the schema and the body cannot disagree. (No docstring:
# it would show in the schema.)
class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["healthy", "unhealthy"])
    database = serializers.ChoiceField(choices=["connected", "disconnected"])
    last_sync = serializers.DateTimeField(
        allow_null=True, help_text="When a sync cycle last completed; null before the first."
    )


class HealthApi(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    # Probed by load balancers and orchestrators every few seconds: never throttled.
    throttle_classes = []

    @extend_schema(
        summary="Health of the service and its database",
        responses={
            200: OpenApiResponse(HealthSerializer, description="Healthy."),
            503: OpenApiResponse(HealthSerializer, description="The database is unreachable."),
        },
    )
    def get(self, request):
        try:
            last_sync = last_sync_finished_at()
        except DatabaseError as exc:
            # The reason goes to the log, never to the (public) response.
            logger.warning("health check: database unreachable (%s)", type(exc).__name__)
            return Response(
                HealthSerializer({"status": "unhealthy", "database": "disconnected", "last_sync": None}).data,
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
                headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
            )
        return Response(HealthSerializer({"status": "healthy", "database": "connected", "last_sync": last_sync}).data)
