"""Errors as JSON everywhere, never with internals in them.

DRF answers its own exceptions as `{"detail": ...}`; this adds a JSON 503 for database outages
(instead of an HTML 500) and JSON answers for Django's own 404 and 500 pages. Every `Http404`
answers `Not found.`, whatever the lookup that raised it (`get_object_or_404` names the model).
"""

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from psycopg.errors import QueryCanceled
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)

DATABASE_UNAVAILABLE = "The database is unavailable; try again shortly."
STATEMENT_TIMED_OUT = (
    "The request took longer than the database allows; ask for less (a shorter period, a smaller page)."
)
DATABASE_RETRY_AFTER_SECONDS = 5


def database_error_detail(exc: Exception) -> str:
    """What to tell the client about an OperationalError: cancelled by WEB_STATEMENT_TIMEOUT, or the database down."""
    return STATEMENT_TIMED_OUT if isinstance(exc.__cause__, QueryCanceled) else DATABASE_UNAVAILABLE


def api_exception_handler(exc, context):
    if isinstance(exc, Http404):
        exc = NotFound()
    response = exception_handler(exc, context)
    if response is not None:
        return response
    if isinstance(exc, RequestDataTooBig):
        return Response(
            {"detail": f"Request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."},
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, (OperationalError, InterfaceError)):
        logger.warning("database unavailable while serving %s: %s", context["request"].path, type(exc).__name__)
        return Response(
            {"detail": database_error_detail(exc)},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, DatabaseError):
        logger.exception("database error while serving %s", context["request"].path)
        return Response({"detail": "Internal server error."}, status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    return None  # Django logs it and answers with handler500


def not_found(request, exception=None):
    return JsonResponse({"detail": "Not found."}, status=404)


def server_error(request):
    return JsonResponse({"detail": "Internal server error."}, status=500)


def bad_request(request, exception=None):
    return JsonResponse({"detail": "Bad request."}, status=400)


def permission_denied(request, exception=None):
    return JsonResponse({"detail": "You do not have permission to perform this action."}, status=403)
