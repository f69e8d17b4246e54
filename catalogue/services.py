"""Writes to the catalogue. Views and the admin call these; they hold the rules."""

import logging

from django.db import transaction

from catalogue.models import Product

logger = logging.getLogger(__name__)


@transaction.atomic
def product_create(*, name: str, description: str | None = None) -> Product:
    product = Product(name=name, description=description)
    product.full_clean()
    product.save()
    logger.info("product created", extra={"product_id": str(product.id)})
    return product


@transaction.atomic
def product_update(*, product: Product, data: dict) -> Product:
    """Change the catalogue fields given in `data`; renaming is local (the offers service has no update)."""
    changed = [field for field in ("name", "description") if field in data]
    for field in changed:
        setattr(product, field, data[field])
    if changed:
        product.full_clean()
        product.save(update_fields=[*changed, "updated_at"])
    return product


@transaction.atomic
def product_delete(*, product: Product) -> None:
    """Delete the product and its cached offers; the offers service has no delete, so it stays there."""
    product_id = product.id
    product.delete()
    logger.info("product deleted", extra={"product_id": str(product_id)})
