from rest_framework import serializers

from aggregator.params import WholeNumberField

# Prices are stored as 64-bit integers; a larger bound could not be compared in SQLite.
MAX_PRICE = 2**63 - 1


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
