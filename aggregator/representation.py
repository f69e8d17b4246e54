"""A resource's representation declared once: the fast builder of its answers and its schema serializer.

The hot endpoints answer from `.values()` rows, not model instances: building a ModelSerializer's
fields for every object costs more than the query. Written by hand, such a builder sits beside a
serializer kept for the OpenAPI schema, and the two drift. Here one list of fields gives both, so
a field added, renamed or removed changes the answer and the schema together.
"""

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import models
from rest_framework import serializers


@dataclass(frozen=True)
class RepresentedField:
    """One key of the answer.

    `column` is the `.values()` lookup it is read from (default: the key itself). A key that is not
    a plain column of the model (a transformed value, a related row's) gives its `schema` field,
    a read-only serializer field that also reads it from a model instance.
    """

    name: str
    column: str | None = None
    transform: Callable[[Any], Any] | None = None
    schema: serializers.Field | None = None


class Representation:
    """Builds a resource's answers from `.values(*representation.columns)` rows, and its schema serializer.

    UUIDs and datetimes stay Python objects in the built dict; DRF's JSON encoder writes them as the
    serializer's fields would (`str(uuid)`, ISO 8601 with `Z` for UTC).
    """

    def __init__(self, *, model: type[models.Model], serializer_name: str, fields: Sequence[RepresentedField]):
        self.fields = tuple(fields)
        self.names = tuple(field.name for field in self.fields)
        self.columns = tuple(field.column or field.name for field in self.fields)
        # itemgetter with several keys reads them all in one C call: the builder runs per row of a page.
        self._read = operator.itemgetter(*self.columns) if len(self.columns) > 1 else _one(self.columns[0])
        self._transforms = tuple((field.name, field.transform) for field in self.fields if field.transform)
        self.serializer = _model_serializer(serializer_name, model, self.fields)

    def __call__(self, row: Mapping[str, Any]) -> dict[str, Any]:
        data = dict(zip(self.names, self._read(row), strict=True))
        for name, transform in self._transforms:
            data[name] = transform(data[name])
        return data


def _one(column: str) -> Callable[[Mapping[str, Any]], tuple]:
    return lambda row: (row[column],)


def _model_serializer(name: str, model: type[models.Model], fields: Sequence[RepresentedField]) -> type:
    declared = {}
    for field in fields:
        if field.schema is not None:
            declared[field.name] = field.schema
        elif field.column is not None and field.column != field.name:
            raise ValueError(f"{name}.{field.name}: a key read from another column needs its schema field")
    names = [field.name for field in fields]
    meta = type("Meta", (), {"model": model, "fields": names, "read_only_fields": names})
    # No docstring: drf-spectacular would show it as the component's description.
    return type(name, (serializers.ModelSerializer,), {**declared, "Meta": meta, "__module__": __name__})
