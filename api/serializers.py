"""The product as the API shows it: the catalogue's fields and two of the offer sync's state.

The composition lives here, above both apps, so that neither names the other's fields: the
catalogue has no idea it is synced, and the offer sync does not shape the product resource.
"""

import datetime
from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

from catalogue.models import Product


class RegisteredField(serializers.BooleanField):
    """Whether the offers service has accepted the product (its sync state has `registered_at`)."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, **kwargs)

    def get_attribute(self, product: Product) -> bool:
        # A product inserted in bulk has no sync state until the worker's next cycle: not registered.
        state = getattr(product, "sync_state", None)
        return state is not None and state.registered_at is not None


# The product as the API shows it. It describes the schema (a docstring here would show in it);
# responses are built by `product_representation`.
class ProductOutputSerializer(serializers.ModelSerializer):
    registered = RegisteredField()
    offers_synced_at = serializers.DateTimeField(source="sync_state.offers_synced_at", read_only=True, allow_null=True)

    class Meta:
        model = Product
        fields = ["id", "name", "description", "created_at", "updated_at", "registered", "offers_synced_at"]
        read_only_fields = fields


# The columns `product_representation` needs, for `.values(*PRODUCT_VALUES_FIELDS)` on products: the
# sync state's through its one-to-one relation (a LEFT JOIN, so a product without one reads as
# not registered and never synced).
PRODUCT_VALUES_FIELDS = (
    "id",
    "name",
    "description",
    "created_at",
    "updated_at",
    "sync_state__registered_at",
    "sync_state__offers_synced_at",
)
_CATALOGUE_FIELDS = PRODUCT_VALUES_FIELDS[:5]


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
        "registered": row["sync_state__registered_at"] is not None,
        "offers_synced_at": row["sync_state__offers_synced_at"],
    }


def product_values(product: Product) -> dict[str, Any]:
    """A model instance as the `.values()` row `product_representation` takes.

    Its sync state is read from `product.sync_state` (loaded with it, or cached when the product
    was just created). The database hands datetimes back in UTC; an instance may hold another zone
    (set in code), so they are converted here, as the serializer's DateTimeField would.
    """
    row = {field: getattr(product, field) for field in _CATALOGUE_FIELDS}
    state = getattr(product, "sync_state", None)
    row["sync_state__registered_at"] = state.registered_at if state is not None else None
    row["sync_state__offers_synced_at"] = state.offers_synced_at if state is not None else None
    for field, value in row.items():
        if isinstance(value, datetime.datetime) and value.tzinfo is not None:
            row[field] = value.astimezone(datetime.UTC)
    return row
