"""Plain SQL reads of one model's columns, answered as the equivalent `.values()` queryset answers.

Django builds and compiles a queryset's SQL anew every time it is evaluated: for the one-query
reads behind `GET /products/{id}` and `GET /products/{id}/offers` that was the larger part of the
request's CPU time, while the SQL never changes, only the id does. `ValuesStatement` writes the
statement once, from the model's public `_meta` (table and column names), and runs it through
Django's cursor, so errors, query logging and `django_assert_num_queries` behave as for any query.
Values go through the fields' own `to_python` where a backend has no native type for them (SQLite
keeps UUIDs and datetimes as text), so the rows are the queryset's on every backend; each caller's
test holds its statement to its queryset.

`array_literal` writes a list of values as one PostgreSQL array parameter (`%s::uuid[]`).
"""

import re
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import DateTimeField, Model, UUIDField


class ValuesStatement:
    """`SELECT fields FROM model WHERE where = %s [ORDER BY order_by]`, rows as dicts keyed by `fields`.

    `fields`, `where` and `order_by` name concrete fields of `model` (a foreign key by its `_id` name);
    `fields` may also name a field of a one-to-one row pointing at `model`, as `relation__field`.
    """

    def __init__(self, model: type[Model], fields: Sequence[str], *, where: str, order_by: Sequence[str] = ()):
        meta = model._meta
        table = _quote(meta.db_table)
        self.names = tuple(fields)
        self._where = meta.get_field(where)
        joins: dict[str, str] = {}
        columns, self._fields = [], []
        for name in self.names:
            relation, _, related_name = name.partition("__")
            if not related_name:
                field = meta.get_field(name)
                columns.append(f"{table}.{_quote(field.column)}")
            else:
                # A one-to-one row another app keeps for this model (`sync_state__registered_at`):
                # LEFT JOINed, so a missing row reads as NULLs, as `.values()` has it.
                rel = meta.get_field(relation)
                related = rel.related_model._meta
                alias = _quote(f"{related.db_table}_{relation}")
                joins[relation] = (
                    f" LEFT JOIN {_quote(related.db_table)} {alias} ON {alias}.{_quote(rel.field.column)}"
                    f" = {table}.{_quote(rel.field.target_field.column)}"
                )
                field = related.get_field(related_name)
                columns.append(f"{alias}.{_quote(field.column)}")
            self._fields.append(field)
        order = ", ".join(f"{table}.{_quote(meta.get_field(name).column)}" for name in order_by)
        self.sql = f"SELECT {', '.join(columns)} FROM {table}{''.join(joins.values())}"
        self.sql += f" WHERE {table}.{_quote(self._where.column)} = %s"
        if order:
            self.sql += f" ORDER BY {order}"
        # Columns a backend may return as text: UUIDs (also through a foreign key) and datetimes.
        self._converted = tuple(
            (position, field.to_python, isinstance(field, DateTimeField))
            for position, field in enumerate(self._fields)
            if isinstance(getattr(field, "target_field", field), (UUIDField, DateTimeField))
        )

    def fetch(self, value: Any, *, using: str = DEFAULT_DB_ALIAS) -> list[dict[str, Any]]:
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(self.sql, [self._where.get_db_prep_value(value, connection)])
            rows = cursor.fetchall()
        names, converted = self.names, self._converted
        if converted:
            rows = [_convert(list(row), converted) for row in rows]
        return [dict(zip(names, row, strict=True)) for row in rows]


# Elements an array literal can hold without quoting: no comma, brace, quote, backslash or space.
_PLAIN_ELEMENT = re.compile(r"[A-Za-z0-9_.:+-]+")


def array_literal(values: Iterable[uuid.UUID | int | datetime | str]) -> str:
    """PostgreSQL's text form of an array of these values, for one `%s::uuid[]` (`bigint[]`, ...) parameter.

    With Django's default client-side binding, psycopg turns a list parameter into SQL element by
    element in Python, which for the batches of the sync (hundreds of ids, prices, timestamps per
    statement) costs more than the statement's own work in the database; one string is quoted
    once. Holds UUIDs (as 32 hex digits, which PostgreSQL's uuid input reads), whole numbers,
    aware datetimes and strings of plain characters; anything else is refused (ValueError).
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
            parts.append(value)
        else:
            raise ValueError(f"not an element array_literal writes: {type(value).__name__}")
    return "{" + ",".join(parts) + "}"


def _quote(name: str) -> str:
    # Standard SQL's quoting, which PostgreSQL and SQLite share; Django's names never hold a quote.
    return f'"{name}"'


def _convert(row: list, converted) -> list:
    for position, to_python, is_datetime in converted:
        value = row[position]
        if value is None:
            continue
        value = to_python(value)
        if is_datetime and value.tzinfo is None:
            # A backend without time zones (SQLite) stores UTC, as Django writes it with USE_TZ.
            value = value.replace(tzinfo=UTC)
        row[position] = value
    return row
