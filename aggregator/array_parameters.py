"""PostgreSQL array parameters: a list of values passed as one `%s::uuid[]` (`bigint[]`, ...) string.

With Django's default client-side binding, psycopg turns a list parameter into SQL element by
element in Python, which for the sync's batches (hundreds of ids, prices and timestamps per
statement) costs more than the statement's own work in the database; one string is quoted once.
"""

import re
import uuid
from collections.abc import Iterable
from datetime import datetime

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import BooleanField, Model, Q
from django.db.models.expressions import RawSQL

# Strings an array literal holds with plain double quotes: no comma, brace, quote, backslash or space.
_PLAIN_ELEMENT = re.compile(r"[A-Za-z0-9_.:+-]+")


def array_literal(values: Iterable[uuid.UUID | int | datetime | str]) -> str:
    """PostgreSQL's text form of an array of these values, for one `%s::uuid[]` (`bigint[]`, ...) parameter.

    Holds UUIDs (as 32 hex digits, which PostgreSQL's uuid input reads), whole numbers, aware
    datetimes and strings of plain characters; anything else is refused (ValueError).
    """
    parts = []
    for value in values:
        if isinstance(value, uuid.UUID):
            parts.append(value.hex)
        elif isinstance(value, int) and not isinstance(value, bool):
            parts.append(str(value))
        elif isinstance(value, datetime) and value.tzinfo is not None:
            parts.append(value.isoformat())
        elif isinstance(value, str) and _PLAIN_ELEMENT.fullmatch(value):
            # Quoted: unquoted, the word NULL (in any case) would be read as a null element.
            parts.append(f'"{value}"')
        else:
            raise ValueError(f"not an element array_literal writes: {type(value).__name__}")
    return "{" + ",".join(parts) + "}"


def uuid_among(model: type[Model], field: str, values: Iterable[uuid.UUID], *, using: str = DEFAULT_DB_ALIAS):
    """A filter: `field` (a UUID column of `model`) is one of `values`; on PostgreSQL `= ANY(array)`.

    The condition an `__in` list becomes, with the list passed as one parameter (`array_literal`)
    rather than one per value, which Django's client-side binding quotes one by one in Python.
    """
    values = list(values)
    connection = connections[using]
    if connection.vendor != "postgresql":
        return Q(**{f"{field}__in": values})
    quote = connection.ops.quote_name
    column = f"{quote(model._meta.db_table)}.{quote(model._meta.get_field(field).column)}"
    return RawSQL(f"{column} = ANY(%s::uuid[])", [array_literal(values)], output_field=BooleanField())


def uuid_rows(values: Iterable[uuid.UUID], *, using: str = DEFAULT_DB_ALIAS):
    """These UUIDs as what `field__in=` takes: on PostgreSQL a subquery of one array parameter.

    There the planner sees a set of rows to join from (`SELECT unnest(…)`), not a list to check
    each row it walks against, and the list is quoted once (`array_literal`).
    """
    values = list(values)
    if connections[using].vendor != "postgresql":
        return values
    return RawSQL("SELECT unnest(%s::uuid[])", [array_literal(values)])
