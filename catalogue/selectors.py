"""Reads of the catalogue. They return querysets; callers decide how much to fetch."""

import uuid

from django.db.models import QuerySet

from catalogue.models import Product


def product_list(*, search: str | None = None) -> QuerySet[Product]:
    """The products, and with `search` those whose name contains it, in any case.

    `name__icontains` is `UPPER(name) LIKE UPPER('%…%')`, which PostgreSQL answers from the
    trigram index on `UPPER(name)` (migration 0004) when the search has three characters or more.
    """
    products = Product.objects.all()
    if search:
        products = products.filter(name__icontains=search)
    return products


def product_ids_named(search: str, *, at_most: int) -> list[uuid.UUID] | None:
    """The ids of the products whose name contains `search` (as `product_list`), or None if over `at_most`.

    For lists of other tables searched by product name: with the ids in hand, their queries go
    from the products to their rows through the product's index, whatever the planner expects
    of how many rows those products have.
    """
    # In no order: PostgreSQL may stop at the first `at_most + 1` it meets.
    ids = list(product_list(search=search).order_by().values_list("id", flat=True)[: at_most + 1])
    return ids if len(ids) <= at_most else None


def product_exists(product_id: uuid.UUID) -> bool:
    return Product.objects.filter(pk=product_id).exists()
