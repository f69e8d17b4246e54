"""The API's product representation and the validation of product input."""

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


class ProductOutputSerializer(serializers.ModelSerializer):
    registered = serializers.BooleanField(source="is_registered", read_only=True)

    class Meta:
        model = Product
        fields = ["id", "name", "description", "created_at", "updated_at", "registered", "offers_synced_at"]
        read_only_fields = fields
