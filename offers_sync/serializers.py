from rest_framework import serializers

from aggregator.params import WholeNumberField
from offers_sync.models import Offer
from offers_sync.selectors import OFFER_API_FIELDS

# Prices are stored as 64-bit integers; a larger bound could not be compared in SQLite.
MAX_PRICE = 2**63 - 1


# The schema of the offers endpoint's items, which are the selector's `.values(*OFFER_API_FIELDS)`
# rows: its fields are that tuple, so answer and schema name the same keys.
class OfferOutputSerializer(serializers.ModelSerializer):
    """An offer for the product, as last mirrored from the offers service. Prices are in minor units."""

    product_id = serializers.UUIDField()

    class Meta:
        model = Offer
        fields = list(OFFER_API_FIELDS)
        read_only_fields = fields


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
