"""Plain SQL reads of one model's columns, answered as the equivalent `.values()` queryset answers.

Django builds and compiles a queryset's SQL anew every time it is evaluated: for the one-query
reads behind `GET /products/{id}` and `GET /products/{id}/offers` that was the larger part of the
request's CPU time, while the SQL never changes, only the id does. `ValuesStatement` writes the
statement once, from the model's public `_meta` (table and column names), and runs it through
Django's cursor, so errors, query logging and `django_assert_num_queries` behave as for any query.
Values go through the fields' own `to_python` where a backend has no native type for them (SQLite
keeps UUIDs and datetimes as text), so the rows are the queryset's on every backend; each caller's
test holds its statement to its queryset.
"""

from collections.abc import Sequence
from datetime import UTC
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
