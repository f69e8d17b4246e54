from rest_framework import serializers

from offers_sync.models import Offer


class OfferOutputSerializer(serializers.ModelSerializer):
    """Describes the offers endpoint's items; the view renders `.values()` rows of the same shape."""

    product_id = serializers.UUIDField()

    class Meta:
        model = Offer
        fields = ["id", "product_id", "price", "items_in_stock"]
        read_only_fields = fields
