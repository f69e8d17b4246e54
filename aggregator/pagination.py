"""Keyset pagination that returns a plain JSON array and links the next page (RFC 8288).

Pages are cut on (`ordering_field`, id), so a page boundary does not move when rows are inserted
before it: every row that existed during the walk is seen exactly once, and no query uses OFFSET.
"""

import base64
import binascii
import json
import uuid
from datetime import UTC, datetime

from django.db.models import Q
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
# Longer than any cursor this class writes (an ISO datetime and a UUID or a 64-bit id, in base64).
MAX_CURSOR_LENGTH = 256


def keyset_page(queryset, field: str, *, after: tuple | None, limit: int, descending: bool = False) -> list:
    """Up to `limit` rows of `queryset` after `after` = (value of `field`, id), in (field, id) order."""
    order = (f"-{field}", "-id") if descending else (field, "id")
    return list(keyset_range(queryset, field, after=after, descending=descending).order_by(*order)[:limit])


def keyset_range(queryset, field: str, *, after: tuple | None = None, descending=False):
    """The rows of `queryset` after `after` = (value of `field`, id): (field, id) > (value, pk), or < when descending.

    The first filter is implied by the second but is what lets PostgreSQL walk the (field, id)
    index from the cursor and stop after a page; with the OR alone it reads every row after the
    cursor and sorts them.
    """
    if after is None:
        return queryset
    value, pk = after
    before, beyond = ("lte", "lt") if descending else ("gte", "gt")
    return queryset.filter(**{f"{field}__{before}": value}).filter(
        Q(**{f"{field}__{beyond}": value}) | Q(**{f"id__{beyond}": pk})
    )


class KeysetLinkPagination(BasePagination):
    ordering_field = "created_at"
    descending = False  # True: newest first, cut on (field, id) < the cursor
    cursor_query_param = "cursor"
    limit_query_param = "limit"

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        limit = self._read_limit(request)
        rows = keyset_page(
            queryset, self.ordering_field, after=self._read_cursor(request), limit=limit + 1, descending=self.descending
        )
        self.next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            self.next_cursor = self._encode(rows[-1])
        return rows

    def get_paginated_response(self, data):
        headers = {}
        if self.next_cursor is not None:
            url = self.request.build_absolute_uri()
            url = replace_query_param(url, self.cursor_query_param, self.next_cursor)
            headers["Link"] = f'<{url}>; rel="next"'
        return Response(data, headers=headers)

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.limit_query_param,
                "in": "query",
                "required": False,
                "description": f"Items per page, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
            },
            {
                "name": self.cursor_query_param,
                "in": "query",
                "required": False,
                "description": 'Opaque position, taken from the `Link: <…>; rel="next"` header.',
                "schema": {"type": "string"},
            },
        ]

    def _read_limit(self, request) -> int:
        raw = request.query_params.get(self.limit_query_param)
        if raw is None:
            return DEFAULT_LIMIT
        # ASCII digits only: str.isdigit() also takes "²" and "١٢", which int() refuses or reads.
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:
            raise ValidationError({self.limit_query_param: [f"Must be a whole number from 1 to {MAX_LIMIT}."]})
        return int(raw)

    def _read_cursor(self, request):
        raw = request.query_params.get(self.cursor_query_param)
        if raw is None:
            return None
        # Checked before decoding: a cursor this class wrote is about 100 characters, and a long
        # one can hide JSON nested deep enough to exhaust the parser's recursion.
        if len(raw) > MAX_CURSOR_LENGTH:
            raise self._invalid_cursor()
        try:
            padded = raw + "=" * (-len(raw) % 4)
            decoded = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
            if not (isinstance(decoded, list) and len(decoded) == 2 and all(isinstance(v, str) for v in decoded)):
                raise ValueError("not a cursor of this endpoint")
            value, pk = decoded
            return self.parse_value(value), self.parse_id(pk)
        except (ValueError, TypeError, OverflowError, RecursionError, binascii.Error, UnicodeError):
            raise self._invalid_cursor() from None

    def _invalid_cursor(self) -> ValidationError:
        return ValidationError({self.cursor_query_param: ["Invalid cursor."]})

    def parse_value(self, raw: str):
        """The ordering half of a cursor (an aware datetime here; subclasses ordering on another type differ).

        Raise ValueError for anything that is not such a value: the client gets a 400.
        """
        position = datetime.fromisoformat(raw)
        if position.tzinfo is None:
            raise ValueError("not a cursor of this endpoint")
        # In UTC here, not in the database driver: a moment whose UTC form leaves the calendar
        # (year 1 at +01:00, year 9999 at -01:00) is then refused the same on every database.
        return position.astimezone(UTC)

    def encode_value(self, value) -> str:
        return value.isoformat()

    def parse_id(self, raw: str):
        """The id half of a cursor, as the rows' primary key type (UUIDs here; subclasses may differ).

        Raise ValueError for anything that is not such an id: the client gets a 400.
        """
        return uuid.UUID(raw)

    def _encode(self, row) -> str:
        value = row[self.ordering_field] if isinstance(row, dict) else getattr(row, self.ordering_field)
        pk = row["id"] if isinstance(row, dict) else row.pk
        raw = json.dumps([self.encode_value(value), str(pk)]).encode()
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
