"""Input validation and representations of endpoints, alerts and deliveries."""

import re

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from alerts.models import (
    DESCRIPTION_MAX_LENGTH,
    URL_MAX_LENGTH,
    Alert,
    AlertKind,
    Delivery,
    EventType,
    WebhookEndpoint,
)

PRICE_MAX = 2**63 - 1


class StrictBooleanField(serializers.BooleanField):
    """JSON true or false only (DRF's own also takes "yes", 1, "on"…)."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictIntegerField(serializers.IntegerField):
    """A JSON whole number only: not "5", not 5.0, not true."""

    default_error_messages = {"not_an_integer": "Must be a whole number."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("not_an_integer")
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    default_error_messages = {"not_a_string": "Must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        if "\x00" in data:
            self.fail("invalid")
        return super().to_internal_value(data)


# What alerts.addresses.parse_url takes, in the subset the schema can say (no IPv6 literals).
URL_PATTERN = r"^https?://[A-Za-z0-9._~-]+(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?(/[!-\"$-~]*)?$"
_URL = re.compile(URL_PATTERN)


@extend_schema_field({"type": "string", "maxLength": URL_MAX_LENGTH, "pattern": URL_PATTERN})
class UrlField(StrictCharField):
    """An endpoint URL exactly as the schema's pattern says; alerts.addresses then checks its host."""

    default_error_messages = {
        "not_a_url": "Must be an http or https URL: a host name or IPv4 address, an optional port and path, "
        "no credentials, spaces or fragment."
    }

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not _URL.fullmatch(value):
            self.fail("not_a_url")
        return value


class EndpointInputSerializer(serializers.Serializer):
    url = UrlField(max_length=URL_MAX_LENGTH, trim_whitespace=False)
    description = StrictCharField(
        max_length=DESCRIPTION_MAX_LENGTH, required=False, allow_null=True, allow_blank=True, default=None
    )


class EndpointUpdateSerializer(EndpointInputSerializer):
    is_active = StrictBooleanField(required=False)


# The output serializers list every field as read-only: each answer carries every key, so the
# schema marks them all required (a model field with a default or null=True would otherwise be
# optional there).


class EndpointOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "description", "is_active", "failing_since", "created_at"]
        read_only_fields = fields


class EndpointCreatedSerializer(serializers.ModelSerializer):
    """The one answer that shows the secret."""

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "description", "secret", "is_active", "failing_since", "created_at"]
        read_only_fields = fields


class AlertInputSerializer(serializers.Serializer):
    webhook_id = serializers.UUIDField()
    # Required, and null means every product: an alert for everything should be asked for.
    product_id = serializers.UUIDField(allow_null=True)
    kind = serializers.ChoiceField(choices=AlertKind.choices)
    threshold = StrictIntegerField(required=False, allow_null=True, default=None, min_value=0, max_value=PRICE_MAX)

    def validate(self, data):
        kind, threshold = data["kind"], data.get("threshold")
        if kind == AlertKind.PRICE_BELOW and threshold is None:
            raise serializers.ValidationError({"threshold": ["Required for price_below: a price in minor units."]})
        if kind == AlertKind.PRICE_DROP and (threshold is None or not 1 <= threshold <= 99):
            raise serializers.ValidationError({"threshold": ["Required for price_drop: a whole percent from 1 to 99."]})
        if kind in (AlertKind.BACK_IN_STOCK, AlertKind.OUT_OF_STOCK) and threshold is not None:
            raise serializers.ValidationError({"threshold": [f"{kind} takes no threshold."]})
        return data


class AlertOutputSerializer(serializers.ModelSerializer):
    webhook_id = serializers.UUIDField(source="endpoint_id", read_only=True)
    product_id = serializers.UUIDField(allow_null=True, read_only=True)

    class Meta:
        model = Alert
        fields = ["id", "webhook_id", "product_id", "kind", "threshold", "created_at"]
        read_only_fields = fields


class DeliveryOutputSerializer(serializers.ModelSerializer):
    event_id = serializers.UUIDField(read_only=True)
    event_type = serializers.ChoiceField(choices=EventType.choices, source="event.type", read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "event_id",
            "event_type",
            "status",
            "attempts",
            "last_status_code",
            "last_error",
            "next_attempt_at",
            "delivered_at",
            "created_at",
        ]
        read_only_fields = fields
