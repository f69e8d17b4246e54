"""The product as the API shows it: the catalogue's fields and two of the offer sync's state.

The composition lives here, above both apps, so that neither names the other's fields: the
catalogue has no idea it is synced, and the offer sync does not shape the product resource.
`PRODUCT` declares the representation once; the answers (`product_representation`) and the
schema's `ProductOutput` component (`ProductOutputSerializer`) are both made from it.
"""

import datetime
import operator
from functools import partial
from typing import Any

from rest_framework import serializers

from aggregator.representation import Representation, RepresentedField
from catalogue.models import Product


class RegisteredField(serializers.BooleanField):
    """Whether the offers service has accepted the product (its sync state has `registered_at`)."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, **kwargs)

    def get_attribute(self, product: Product) -> bool:
        # A product inserted in bulk has no sync state until the worker's next cycle: not registered.
        state = getattr(product, "sync_state", None)
        return state is not None and state.registered_at is not None


# The sync state's columns are read through its one-to-one relation (a LEFT JOIN, so a product
# without one reads as not registered and never synced).
PRODUCT = Representation(
    model=Product,
    serializer_name="ProductOutputSerializer",
    fields=[
        RepresentedField("id"),
        RepresentedField("name"),
        RepresentedField("description"),
        RepresentedField("created_at"),
        RepresentedField("updated_at"),
        RepresentedField(
            "registered",
            column="sync_state__registered_at",
            transform=partial(operator.is_not, None),
            schema=RegisteredField(),
        ),
        RepresentedField(
            "offers_synced_at",
            column="sync_state__offers_synced_at",
            schema=serializers.DateTimeField(source="sync_state.offers_synced_at", read_only=True, allow_null=True),
        ),
    ],
)

ProductOutputSerializer = PRODUCT.serializer
# For `.values(*PRODUCT_VALUES_FIELDS)` on products: the rows `product_representation` takes.
PRODUCT_VALUES_FIELDS = PRODUCT.columns
product_representation = PRODUCT.build


def product_values(product: Product) -> dict[str, Any]:
    """A model instance as the `.values()` row `product_representation` takes.

    A related row's column (`sync_state__registered_at`) is read through the relation: loaded with
    the product, or cached when it was just created; a missing row reads as None, as the LEFT JOIN
    does. The database hands datetimes back in UTC; an instance may hold another zone (set in
    code), so they are converted here, as the serializer's DateTimeField would.
    """
    row = {column: _lookup(product, column) for column in PRODUCT.columns}
    for column, value in row.items():
        if isinstance(value, datetime.datetime) and value.tzinfo is not None:
            row[column] = value.astimezone(datetime.UTC)
    return row


def _lookup(instance: Any, column: str) -> Any:
    for part in column.split("__"):
        # A reverse one-to-one without its row raises RelatedObjectDoesNotExist, an AttributeError.
        instance = getattr(instance, part, None)
        if instance is None:
            return None
    return instance
