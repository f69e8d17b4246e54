"""A resource's representation declared once: the fast builder of its answers and its schema serializer.

The hot endpoints answer from `.values()` rows, not model instances: building a ModelSerializer's
fields for every object costs more than the query. Written by hand, such a builder sits beside a
serializer kept for the OpenAPI schema, and the two drift. Here one list of fields gives both, so
a field added, renamed or removed changes the answer and the schema together.
"""

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
        self.build = _builder(self.fields)
        self.serializer = _model_serializer(serializer_name, model, self.fields)

    def __call__(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The answer for one row (call `build` itself in a loop: one call fewer per row)."""
        return self.build(row)


def _builder(fields: Sequence[RepresentedField]) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """`row -> {key: row[column], …}` as one dict display, compiled from the fields.

    It runs for every row of every page, where a loop over the fields costs several times what a
    dict display written out does. Generated source, as dataclasses builds `__init__`: only the names,
    columns (as repr'd literals) and the transforms (passed as globals) go into it.
    """
    namespace: dict[str, Any] = {}
    items = []
    for index, field in enumerate(fields):
        value = f"row[{(field.column or field.name)!r}]"
        if field.transform is not None:
            namespace[f"_transform_{index}"] = field.transform
            value = f"_transform_{index}({value})"
        items.append(f"{field.name!r}: {value}")
    exec("def build(row):\n    return {" + ", ".join(items) + "}\n", namespace)  # noqa: S102
    return namespace["build"]


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
