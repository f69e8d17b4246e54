from rest_framework import serializers

from aggregator.params import WholeNumberField

# Prices are stored as 64-bit integers; a larger bound could not be compared in SQLite.
MAX_PRICE = 2**63 - 1

# The `.values()` columns an offer's answer is read from.
OFFER_COLUMNS = ("id", "product_id", "price", "items_in_stock")


class OfferOutputSerializer(serializers.Serializer):
    """An offer for the product, as last mirrored from the offers service. Prices are in minor units."""

    # The fields are the schema's `OfferOutput` component; `to_representation` writes the answer
    # out from a `.values(*OFFER_COLUMNS)` row, the API's hottest read (no field runs per value).
    id = serializers.UUIDField(read_only=True)
    product_id = serializers.UUIDField()
    price = serializers.IntegerField(read_only=True, help_text="In minor currency units.")
    items_in_stock = serializers.IntegerField(read_only=True)

    def to_representation(self, row):
        return {
            "id": row["id"],
            "product_id": row["product_id"],
            "price": row["price"],
            "items_in_stock": row["items_in_stock"],
        }


class OfferFilterSerializer(serializers.Serializer):
    """Query parameters of GET /products/{id}/offers; all optional, a blank value means no filter."""

    min_price = WholeNumberField(
        required=False, min_value=0, max_value=MAX_PRICE, help_text="Only offers at this price or more."
    )
    max_price = WholeNumberField(
        required=False, min_value=0, max_value=MAX_PRICE, help_text="Only offers at this price or less."
    )
    in_stock = serializers.BooleanField(
        required=False, help_text="true: only offers with items in stock; false: only sold-out ones."
    )

    def validate(self, attrs):
        low, high = attrs.get("min_price"), attrs.get("max_price")
        if low is not None and high is not None and low > high:
            raise serializers.ValidationError({"min_price": ["Must not be more than max_price."]})
        return attrs
