"""Reads of the catalogue. They return querysets; callers decide how much to fetch."""

import uuid

from django.db.models import QuerySet

from catalogue.models import Product


def product_list(*, search: str | None = None) -> QuerySet[Product]:
    products = Product.objects.all()
    if search:
        products = products.filter(name__icontains=search)
    return products


def product_get(product_id: str | uuid.UUID) -> Product | None:
    """The product with this id, or None when there is none or the id is not a UUID at all."""
    try:
        product_uuid = product_id if isinstance(product_id, uuid.UUID) else uuid.UUID(str(product_id))
    except ValueError:
        return None
    return Product.objects.filter(pk=product_uuid).first()
