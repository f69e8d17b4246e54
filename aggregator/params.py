"""Reading what a request sends: its body and query parameters through a DRF serializer, and ids."""

import re
import uuid

from rest_framework import serializers

_WHOLE_NUMBER = re.compile(r"-?[0-9]+")


def parse_uuid(value) -> uuid.UUID | None:
    """`value` as a UUID, or None when it is not one (no row can have such an id)."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def query_params(request) -> dict:
    """The query string as a plain dict, blank values dropped (`?min_price=` means no filter).

    A plain dict rather than the QueryDict: DRF reads a boolean missing from a QueryDict as false.
    """
    return {key: value for key, value in request.query_params.dict().items() if value.strip() != ""}


def validated_query(serializer_class: type[serializers.Serializer], request) -> dict:
    """The query parameters checked by `serializer_class`; a bad value is a 400 with field errors."""
    serializer = serializer_class(data=query_params(request))
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def validated_body(serializer_class: type[serializers.Serializer], request, *, partial: bool = False) -> dict:
    """The request body checked by `serializer_class`, as a plain dict; a bad value is a 400 with field errors."""
    serializer = serializer_class(data=request.data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class WholeNumberField(serializers.IntegerField):
    """An integer written plainly: DRF's own also takes "5.0", "+5" and "5_000"."""

    def to_internal_value(self, data):
        if isinstance(data, str) and not _WHOLE_NUMBER.fullmatch(data.strip()):
            self.fail("invalid")
        return super().to_internal_value(data)
