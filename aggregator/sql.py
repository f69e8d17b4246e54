"""Plain SQL reads of one model's columns, answered as the equivalent `.values()` queryset answers.

Django builds and compiles a queryset's SQL anew every time it is evaluated: for the one-query
reads behind `GET /products/{id}` and `GET /products/{id}/offers` that was the larger part of the
request's CPU time, and a large part of a `GET /products` page's, while the SQL never changes, only
the id or the cursor does. `ValuesStatement` and `KeysetPageStatement` write the statement once,
from the model's public `_meta` (table and column names), and run it through Django's cursor, so
errors, query logging and `django_assert_num_queries` behave as for any query. Values go through
the fields' own `to_python` where a backend has no native type for them (SQLite keeps UUIDs and
datetimes as text), so the rows are the queryset's on every backend; each caller's test holds its
statement to its queryset.

`array_literal` writes a list of values as one PostgreSQL array parameter (`%s::uuid[]`).
"""

import re
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import BooleanField, DateTimeField, Model, Q, UUIDField
from django.db.models.expressions import RawSQL


class _Select:
    """`SELECT fields FROM model [LEFT JOIN …]`, and how to turn its rows into `.values()` dicts.

    `fields` name concrete fields of `model` (a foreign key by its `_id` name), or a field of a
    one-to-one row pointing at `model`, as `relation__field`.
    """

    def __init__(self, model: type[Model], fields: Sequence[str]):
        self.meta = meta = model._meta
        self.table = table = _quote(meta.db_table)
        self.names = tuple(fields)
        joins: dict[str, str] = {}
        columns, fields_read = [], []
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
            fields_read.append(field)
        self.sql = f"SELECT {', '.join(columns)} FROM {table}{''.join(joins.values())}"
        # Columns a backend may return as text: UUIDs (also through a foreign key) and datetimes.
        # PostgreSQL's driver returns both as Python values already (aware datetimes in UTC, the
        # zone Django gives the session), so only other backends need them converted.
        self._converted = tuple(
            (position, field.to_python, isinstance(field, DateTimeField))
            for position, field in enumerate(fields_read)
            if isinstance(getattr(field, "target_field", field), (UUIDField, DateTimeField))
        )

    def column(self, name: str) -> str:
        return f"{self.table}.{_quote(self.meta.get_field(name).column)}"

    def fetch(self, sql: str, params: list, *, using: str) -> list[dict[str, Any]]:
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        names, converted = self.names, self._converted
        if converted and connection.vendor != "postgresql":
            rows = [_convert(list(row), converted) for row in rows]
        return [dict(zip(names, row, strict=True)) for row in rows]


class ValuesStatement:
    """`SELECT fields FROM model WHERE where = %s [ORDER BY order_by]`, rows as dicts keyed by `fields`.

    `fields` as for `_Select`; `where` and `order_by` name concrete fields of `model`.
    """

    def __init__(self, model: type[Model], fields: Sequence[str], *, where: str, order_by: Sequence[str] = ()):
        self._select = select = _Select(model, fields)
        self.names = select.names
        self._where = select.meta.get_field(where)
        self.sql = f"{select.sql} WHERE {select.column(where)} = %s"
        if order_by:
            self.sql += f" ORDER BY {', '.join(select.column(name) for name in order_by)}"

    def fetch(self, value: Any, *, using: str = DEFAULT_DB_ALIAS) -> list[dict[str, Any]]:
        prepared = self._where.get_db_prep_value(value, connections[using])
        return self._select.fetch(self.sql, [prepared], using=using)


class KeysetPageStatement:
    """One keyset page of a whole table: the rows after `(ordering_field, id)`, in that order, `limit` of them.

    The statement `aggregator.pagination.KeysetLinkPagination` has the ORM build for a queryset:
    `WHERE field >= %s AND (field > %s OR id > %s) ORDER BY field, id LIMIT %s` (the first
    condition lets the database walk the `(field, id)` index from the cursor; see there).
    """

    def __init__(self, model: type[Model], fields: Sequence[str], *, ordering_field: str):
        self._select = select = _Select(model, fields)
        self.names = select.names
        self._ordering = select.meta.get_field(ordering_field)
        self._pk = select.meta.pk
        field, pk = select.column(ordering_field), select.column(self._pk.name)
        order = f" ORDER BY {field} ASC, {pk} ASC LIMIT %s"
        self.first_sql = select.sql + order
        self.after_sql = f"{select.sql} WHERE {field} >= %s AND ({field} > %s OR {pk} > %s){order}"

    def fetch(self, after: tuple[Any, Any] | None, limit: int, *, using: str = DEFAULT_DB_ALIAS) -> list[dict]:
        if after is None:
            return self._select.fetch(self.first_sql, [limit], using=using)
        connection = connections[using]
        value = self._ordering.get_db_prep_value(after[0], connection)
        pk = self._pk.get_db_prep_value(after[1], connection)
        return self._select.fetch(self.after_sql, [value, value, pk, limit], using=using)


# Strings an array literal holds with plain double quotes: no comma, brace, quote, backslash or space.
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
    if connections[using].vendor != "postgresql":
        return Q(**{f"{field}__in": values})
    column = f"{_quote(model._meta.db_table)}.{_quote(model._meta.get_field(field).column)}"
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
