"""The product as the API shows it: the catalogue's fields and two of the offer sync's state.

The composition lives here, above both apps, so that neither names the other's fields: the
catalogue has no idea it is synced, and the offer sync does not shape the product resource.
"""

from rest_framework import serializers

# The `.values()` columns a product's answer is read from. The sync state is read through its
# one-to-one relation, a LEFT JOIN: a product inserted in bulk has no sync state until the worker's
# next cycle, and reads as not registered and never synced.
PRODUCT_COLUMNS = (
    "id",
    "name",
    "description",
    "created_at",
    "updated_at",
    "sync_state__registered_at",
    "sync_state__offers_synced_at",
)


class ProductOutputSerializer(serializers.Serializer):
    # The fields are the schema's `ProductOutput` component; `to_representation` writes the answer
    # out from a `.values(*PRODUCT_COLUMNS)` row (a page of 100 is the list's whole cost, so no field
    # runs per value). UUIDs and datetimes stay Python values: the JSON renderer writes them as
    # DRF's fields would (`str(uuid)`, ISO 8601 with `Z`). No docstring: drf-spectacular would show
    # it as the component's description.
    id = serializers.UUIDField(read_only=True)
    name = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    registered = serializers.BooleanField(read_only=True)  # the sync state has `registered_at`
    offers_synced_at = serializers.DateTimeField(read_only=True, allow_null=True)

    def to_representation(self, row):
        return {
            "id": row["id"],
            "name": row["name"],
            "description": row["description"],
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
            "registered": row["sync_state__registered_at"] is not None,
            "offers_synced_at": row["sync_state__offers_synced_at"],
        }
