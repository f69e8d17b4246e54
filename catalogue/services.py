"""Writes to the catalogue. Views and the admin call these; they hold the rules."""

import logging

from django.db import transaction
from django.utils import timezone

from catalogue.models import Product

logger = logging.getLogger(__name__)


@transaction.atomic
def product_create(*, name: str, description: str | None = None) -> Product:
    """Create the product.

    Apps that keep state per product react to its `post_save` (the offer sync creates its sync
    state in this transaction and registers the product once it is committed).
    """
    product = Product(name=name, description=description)
    # No field but the random primary key is unique: checking it would cost a query and say nothing.
    product.full_clean(validate_unique=False)
    product.save()
    logger.info("product created", extra={"product_id": str(product.id)})
    return product


@transaction.atomic
def product_update(*, product: Product, data: dict) -> Product:
    """Change the catalogue fields given in `data`; renaming is local (the offers service has no update).

    Raises Product.DoesNotExist when the product was deleted since it was read.
    """
    changed = [field for field in ("name", "description") if field in data]
    for field in changed:
        setattr(product, field, data[field])
    if changed:
        product.full_clean(validate_unique=False)
        product.updated_at = timezone.now()
        # A conditional update rather than save(update_fields=...): a row deleted meanwhile is a
        # count of 0 to report, where save() raises a bare DatabaseError.
        fields = {field: getattr(product, field) for field in [*changed, "updated_at"]}
        if not Product.objects.filter(pk=product.pk).update(**fields):
            raise Product.DoesNotExist("the product was deleted meanwhile")
    return product


@transaction.atomic
def product_delete(*, product: Product) -> bool:
    """Delete the product and whatever other apps keep for it (cascading foreign keys).

    The offers service has no delete, so the product stays registered there. Returns False when
    the product was already gone (another request or the admin deleted it).
    """
    product_id = product.id
    # Lock the row first. A worker reconciling this product holds the same lock while it writes
    # offers; without it, offers committed between the delete collecting the product's offers and
    # deleting the product would still point at it, and the commit would fail (a 500).
    if not Product.objects.select_for_update().filter(pk=product_id).exists():
        return False
    product.delete()
    logger.info("product deleted", extra={"product_id": str(product_id)})
    return True
