"""The product as the API shows it: the catalogue's fields and two of the offer sync's state; and
an offer as it shows it: the offer sync's mirror with the price history's prior price.

The composition lives here, above the apps, so that none names another's fields: the catalogue has
no idea it is synced, the offer sync does not shape the product resource, and the price history
does not shape the offers answer.
"""

from rest_framework import serializers

# The `.values()` columns a product's answer is read from (api.products.product_rows): its own,
# and two of its sync state's, which a product inserted in bulk has not yet (not registered, never
# synced) until the worker's next cycle.
PRODUCT_COLUMNS = ("id", "name", "description", "created_at", "updated_at")
SYNC_STATE_COLUMNS = ("sync_state__registered_at", "sync_state__offers_synced_at")


class ProductOutputSerializer(serializers.Serializer):
    # The fields are the schema's `ProductOutput` component; `to_representation` writes the answer
    # out from an api.products.product_rows row (a page of 100 is the list's whole cost, so no field
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


# The `.values()` columns an offer's answer is read from, besides its prior price (api.offers).
OFFER_COLUMNS = ("id", "product_id", "price", "items_in_stock")


class OfferOutputSerializer(serializers.Serializer):
    # The fields are the schema's `OfferOutput` component; `to_representation` writes the answer
    # out from a `.values()` row, the API's hottest read (no field runs per value).
    id = serializers.UUIDField(read_only=True)
    product_id = serializers.UUIDField()
    price = serializers.IntegerField(read_only=True, help_text="In minor units of `currency`.")
    items_in_stock = serializers.IntegerField(read_only=True)
    prior_price = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text=(
            "The offer's lowest price in the PRIOR_PRICE_DAYS before its current price took effect "
            "(minor units); null for its first price."
        ),
    )
    prior_price_since = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text=(
            "Where the period `prior_price` covers starts: PRIOR_PRICE_DAYS before the current price "
            "took effect, or later where the offer's history starts later; null with `prior_price`."
        ),
    )
    currency = serializers.CharField(read_only=True, help_text="ISO 4217 code of the prices (the deployment's).")

    def to_representation(self, row):
        return {
            "id": row["id"],
            "product_id": row["product_id"],
            "price": row["price"],
            "items_in_stock": row["items_in_stock"],
            "prior_price": row["prior_price"],
            "prior_price_since": row["prior_price_since"],
            "currency": self.context["currency"],
        }
