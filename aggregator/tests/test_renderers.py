"""The fast JSON renderer writes exactly what DRF's JSONRenderer writes."""

import datetime
import decimal
import uuid
from zoneinfo import ZoneInfo

import pytest
from django.utils.translation import gettext_lazy
from rest_framework.exceptions import ErrorDetail
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.serializer_helpers import ReturnDict

from aggregator.renderers import FastJSONRenderer

UTC = datetime.UTC
VALUES = [
    {"id": uuid.UUID("0885aab1-4da3-54c2-f626-acc74bab381e"), "price": 2**63 - 1, "items_in_stock": 0},
    datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    datetime.datetime(2026, 1, 2, 3, 4, 5, 120, tzinfo=UTC),
    datetime.datetime(2026, 1, 2, 3, 4, 5, 999999, tzinfo=ZoneInfo("Europe/Berlin")),
    datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=ZoneInfo("Europe/London")),  # +00:00 but not UTC
    datetime.datetime(2026, 1, 2, 3, 4, 5),  # naive
    datetime.date(2026, 1, 2),
    datetime.time(3, 4, 5, 6),
    datetime.timedelta(days=1, microseconds=5),
    decimal.Decimal("12.50"),
    'Ünïcode “quotes” \\ / " \x00 \x1f \x7f \t\n \u2028 \u2029 😀 \ud7ff',
    {"name": [ErrorDetail("This field is required.", code="required")]},
    ReturnDict({"detail": gettext_lazy("Not found.")}, serializer=None),
    {1: "int key", "nested": {"list": [None, True, False, -1, 0, ""]}},
    [],
    {},
    (1, 2),
    b"bytes",
]


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_same_bytes_as_drf(value):
    assert FastJSONRenderer().render(value) == JSONRenderer().render(value)


def test_whole_list_at_once():
    assert FastJSONRenderer().render(VALUES) == JSONRenderer().render(VALUES)


@pytest.mark.parametrize("media_type", ["application/json; indent=4", "application/json; indent=0"])
def test_indentation_requests_are_honoured(media_type):
    assert FastJSONRenderer().render(VALUES[:3], media_type) == JSONRenderer().render(VALUES[:3], media_type)


def test_integers_beyond_64_bits_fall_back():
    assert FastJSONRenderer().render({"big": 2**70}) == b'{"big":1180591620717411303424}'


def test_none_is_an_empty_body():
    assert FastJSONRenderer().render(None) == b""
