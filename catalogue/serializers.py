"""The API's product representation and the validation of product input."""

import datetime
from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

from catalogue.models import DESCRIPTION_MAX_LENGTH, NAME_MAX_LENGTH, Product


class StrictCharField(serializers.CharField):
    """A CharField that takes only JSON strings: DRF's own would turn 42 or true into "42"."""

    default_error_messages = {"not_a_string": "Must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class ProductInputSerializer(serializers.Serializer):
    """What a client may send: a name and an optional description. Anything else is ignored."""

    name = StrictCharField(min_length=1, max_length=NAME_MAX_LENGTH)
    # PUT replaces the whole product, so an omitted description becomes null there (default);
    # PATCH applies no defaults and leaves it alone.
    description = StrictCharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        max_length=DESCRIPTION_MAX_LENGTH,
        default=None,
    )


# The product as the API shows it. It describes the schema (a docstring here would show in it);
# responses are built by `product_representation`.
class ProductOutputSerializer(serializers.ModelSerializer):
    registered = serializers.BooleanField(source="is_registered", read_only=True)

    class Meta:
        model = Product
        fields = ["id", "name", "description", "created_at", "updated_at", "registered", "offers_synced_at"]
        read_only_fields = fields


# The columns `product_representation` needs, for `.values(*PRODUCT_VALUES_FIELDS)`.
PRODUCT_VALUES_FIELDS = ("id", "name", "description", "created_at", "updated_at", "registered_at", "offers_synced_at")


def product_representation(row: Mapping[str, Any]) -> dict[str, Any]:
    """The same object as `ProductOutputSerializer(product).data`, from a `.values()` row, as a plain dict.

    The hot endpoints skip the serializer: building a ModelSerializer's fields for every object cost
    more than the database query. UUIDs and datetimes stay Python objects here; the JSON renderer's
    encoder writes them exactly as the serializer's fields would (`str(uuid)`, ISO 8601 with `Z`).
    A test compares the two, so a field added to one and not the other fails `make test`.
    """
    return {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "registered": row["registered_at"] is not None,
        "offers_synced_at": row["offers_synced_at"],
    }


def product_values(product: Product) -> dict[str, Any]:
    """A model instance as the `.values()` row `product_representation` takes.

    The database hands datetimes back in UTC; an instance may hold another zone (set in code), so
    they are converted here, as the serializer's DateTimeField would.
    """
    row = {field: getattr(product, field) for field in PRODUCT_VALUES_FIELDS}
    for field, value in row.items():
        if isinstance(value, datetime.datetime) and value.tzinfo is not None:
            row[field] = value.astimezone(datetime.UTC)
    return row
