"""Read queries compiled to SQL once and then only executed, for the API's hottest reads.

Django builds and compiles a queryset's SQL anew every time it is evaluated. For the one-row and
few-row reads behind `GET /products/{id}` and `GET /products/{id}/offers` that work was the larger
part of the request's CPU time (see docs/performance.md), while the SQL never changes: only the
product id does. `PreparedValuesQuery` compiles a `.values()` queryset once per database alias with
a marker standing in for its single parameter, and then executes that SQL with the real value. It
applies the converters the ORM would (SQLite stores UUIDs and datetimes as text), so its rows are
exactly what iterating the queryset gives, on every backend, and it runs through Django's cursor,
so errors, query logging and `django_assert_num_queries` behave as for any query.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Field, QuerySet


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    params: tuple
    position: int  # where the parameter goes in params
    names: tuple[str, ...]
    converters: tuple[tuple[int, tuple, Any], ...]  # (column, converter functions, expression)


class PreparedValuesQuery:
    """`build(value)` must return a `.values()` queryset that uses `value` once, compared with `field`.

    `marker` is a value of the parameter's type that the query uses nowhere else.
    """

    def __init__(self, build: Callable[[Any], QuerySet], *, field: Field, marker: Any):
        self._build = build
        self._field = field
        self._marker = marker
        self._compiled: dict[str, _Compiled] = {}

    def fetch(self, value: Any, *, using: str = DEFAULT_DB_ALIAS) -> list[dict[str, Any]]:
        compiled = self._compiled.get(using)
        if compiled is None:
            compiled = self._compiled[using] = self._compile(using)
        connection = connections[using]
        params = list(compiled.params)
        params[compiled.position] = self._field.get_db_prep_value(value, connection, prepared=False)
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        names = compiled.names
        if compiled.converters:
            rows = [self._convert(list(row), compiled.converters, connection) for row in rows]
        return [dict(zip(names, row, strict=True)) for row in rows]

    @staticmethod
    def _convert(row: list, converters, connection) -> list:
        for position, functions, expression in converters:
            value = row[position]
            for function in functions:
                value = function(value, expression, connection)
            row[position] = value
        return row

    def _compile(self, using: str) -> _Compiled:
        connection = connections[using]
        queryset = self._build(self._marker).using(using)
        query = queryset.query
        compiler = query.get_compiler(using)
        sql, params = compiler.as_sql()
        marker = self._field.get_db_prep_value(self._marker, connection, prepared=False)
        positions = [i for i, param in enumerate(params) if param == marker]
        if len(positions) != 1:
            raise ImproperlyConfigured(f"the prepared query must use its parameter exactly once, not {len(positions)}")
        if query.selected:
            names = tuple(query.selected)
        else:
            names = (*query.extra_select, *query.values_select, *query.annotation_select)
        if not names:
            raise ImproperlyConfigured("the prepared query must be a .values() queryset")
        expressions = [column[0] for column in compiler.select[: compiler.col_count]]
        converters = tuple(
            (position, tuple(functions), expression)
            for position, (functions, expression) in compiler.get_converters(expressions).items()
        )
        return _Compiled(sql, tuple(params), positions[0], names, converters)
