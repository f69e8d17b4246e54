"""The validation of product input (the API's product representation is in api.serializers)."""

import re

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalogue.models import DESCRIPTION_MAX_LENGTH, NAME_MAX_LENGTH

# The rules for names and descriptions are regular expressions, published as the OpenAPI
# `pattern`s, so that the schema says exactly what the server takes. They are written in the
# subset of syntax that Python and ECMA-262 (JSON Schema) read alike: no `\s`, whose meaning
# differs between the two.
#
# What str.strip() removes, and so what may surround a value (DRF trims it off).
_SURROUNDING = r"\t\n\x0b\x0c\r\x1c-\x1f\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# Not inside a name: control characters (C0, DEL, C1) and the bidirectional embedding, override and
# isolate controls, which can make a name display as something other than what it is ("Trojan
# Source"). Letters of any script, emoji and joiners inside emoji sequences are all welcome.
_NOT_IN_NAMES = r"\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
# Characters that show nothing: spaces, zero-width spaces and joiners, a byte-order mark…; a name
# must hold at least one character that is none of these.
_BLANK = (
    r"\x20\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
    r"\u00ad\u034f\u115f\u1160\u180e\u200b-\u200f\u2060-\u2064\u3164\ufeff\uffa0"
)
NAME_PATTERN = (
    rf"^[{_SURROUNDING}]*[{_BLANK}]*[^{_SURROUNDING}{_BLANK}{_NOT_IN_NAMES}][^{_NOT_IN_NAMES}]*[{_SURROUNDING}]*$"
)
# Inside a description, tabs and line breaks are fine; other C0 controls and DEL are not.
_NOT_IN_DESCRIPTIONS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f"
DESCRIPTION_PATTERN = rf"^[{_SURROUNDING}]*[^{_NOT_IN_DESCRIPTIONS}]*[{_SURROUNDING}]*$"


class CheckedTextField(serializers.CharField):
    """A string field whose value as sent must fully match `pattern` and be at most `max_length`
    characters long (surrounding whitespace included: the schema can only speak of the value as
    sent); it is then trimmed. Only JSON strings: DRF's own CharField would turn 42 into "42"."""

    default_error_messages = {
        "not_a_string": "Must be a string.",
        "forbidden_character": "Must not contain control characters (found U+{code:04X}).",
    }

    def __init__(self, *, pattern: str, forbidden: str, **kwargs):
        self.pattern = re.compile(pattern)
        self.forbidden = re.compile(f"[{forbidden}]")
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        if self.pattern.fullmatch(data) is None:
            found = self.forbidden.search(data.strip())
            if found:
                self.fail("forbidden_character", code=ord(found.group()))
            self.fail("blank")  # a name of nothing but spaces and invisible characters
        return super().to_internal_value(data)


@extend_schema_field({"type": "string", "minLength": 1, "maxLength": NAME_MAX_LENGTH, "pattern": NAME_PATTERN})
class NameField(CheckedTextField):
    """A product name: something visible, no control characters (see NAME_PATTERN)."""

    def __init__(self, **kwargs):
        super().__init__(pattern=NAME_PATTERN, forbidden=_NOT_IN_NAMES, max_length=NAME_MAX_LENGTH, **kwargs)


@extend_schema_field({"type": "string", "maxLength": DESCRIPTION_MAX_LENGTH, "pattern": DESCRIPTION_PATTERN})
class DescriptionField(CheckedTextField):
    """A product description: text with line breaks and tabs, up to DESCRIPTION_MAX_LENGTH."""

    def __init__(self, **kwargs):
        super().__init__(
            pattern=DESCRIPTION_PATTERN,
            forbidden=_NOT_IN_DESCRIPTIONS,
            max_length=DESCRIPTION_MAX_LENGTH,
            **kwargs,
        )


class ProductInputSerializer(serializers.Serializer):
    """What a client may send: a name and an optional description. Anything else is ignored."""

    name = NameField()
    # PUT replaces the whole product, so an omitted description becomes null there (default);
    # PATCH applies no defaults and leaves it alone.
    description = DescriptionField(required=False, allow_null=True, allow_blank=True, default=None)
