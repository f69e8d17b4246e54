"""Request-wide guards that run before any view: NUL characters, and database outages outside DRF."""

from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from django.utils.deprecation import MiddlewareMixin

from aggregator.exceptions import DATABASE_RETRY_AFTER_SECONDS, database_error_detail


class RejectNulCharactersMiddleware(MiddlewareMixin):
    """Answer 400 to a request with a NUL character in its path, query string or headers.

    No legitimate client sends one, and PostgreSQL cannot store or even compare text holding one
    (psycopg raises before the query is sent), so a NUL reaching a lookup would be a 500. Bodies
    are checked by the serializers (DRF refuses NUL in strings).
    """

    def process_request(self, request):
        query = request.META.get("QUERY_STRING", "")
        if (
            "\x00" in request.path_info
            or "%00" in query
            or "\x00" in query
            or any("\x00" in value for key, value in request.META.items() if key.startswith("HTTP_"))
        ):
            return JsonResponse({"detail": "The request contains a NUL character."}, status=400)
        return None


class DatabaseUnavailableMiddleware(MiddlewareMixin):
    """A JSON 503 with Retry-After when the database is down under a non-API view (the admin).

    The API's own views get the same answer from aggregator.exceptions.api_exception_handler.
    """

    def process_exception(self, request, exception):
        if isinstance(exception, (OperationalError, InterfaceError)):
            return JsonResponse(
                {"detail": database_error_detail(exception)},
                status=503,
                headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
            )
        return None
