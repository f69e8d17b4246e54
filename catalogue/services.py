"""Writes to the catalogue. Views and the admin call these; they hold the rules."""

import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from catalogue.models import Product
from catalogue.signals import products_created

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


# The most products one bulk create takes (POST /products/bulk, the admin's import per batch).
BULK_CREATE_MAX = 1000


class BulkValidationError(Exception):
    """Some items of a bulk create are invalid; nothing was written.

    `errors` maps each bad item's index to its field errors ({"name": ["…"]}).
    """

    def __init__(self, errors: dict[int, dict[str, list[str]]]):
        super().__init__(f"{len(errors)} invalid item(s)")
        self.errors = errors


@transaction.atomic
def products_bulk_create(*, items: list[dict]) -> list[Product]:
    """Create every product in `items` ({name, description?}) in one transaction, in order, or none.

    The model's own validation runs on each, as for a single create; any failure raises
    BulkValidationError naming every bad item. Nothing is registered here: the products are
    announced with `products_created` and the sync worker registers them in the background.
    """
    if not 1 <= len(items) <= BULK_CREATE_MAX:
        raise ValueError(f"a bulk create takes 1 to {BULK_CREATE_MAX} items")
    products = [Product(name=item["name"], description=item.get("description")) for item in items]
    errors = {}
    for index, product in enumerate(products):
        try:
            product.full_clean(validate_unique=False)
        except ValidationError as exc:
            errors[index] = exc.message_dict
    if errors:
        raise BulkValidationError(errors)
    Product.objects.bulk_create(products)
    products_created.send(sender=Product, products=products)
    logger.info("products created in bulk", extra={"count": len(products)})
    return products


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
