"""Reads of the catalogue. They return querysets; callers decide how much to fetch."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from django.db.models import QuerySet

from aggregator.pagination import keyset_page
from aggregator.sql import KeysetPageStatement, ValuesStatement
from catalogue.models import Product
from catalogue.search import name_contains_all


def product_list(*, search: str | None = None) -> QuerySet[Product]:
    products = Product.objects.all()
    if search:
        products = name_contains_all(products, [search])
    return products


def parse_product_id(product_id: str | uuid.UUID) -> uuid.UUID | None:
    """The id as a UUID, or None when it is not one (such a product cannot exist)."""
    if isinstance(product_id, uuid.UUID):
        return product_id
    try:
        return uuid.UUID(str(product_id))
    except ValueError:
        return None


def product_get(product_id: str | uuid.UUID) -> Product | None:
    """The product with this id, or None when there is none or the id is not a UUID at all."""
    product_uuid = parse_product_id(product_id)
    if product_uuid is None:
        return None
    return Product.objects.filter(pk=product_uuid).first()


def product_values_get(product_id: uuid.UUID, fields: Sequence[str]) -> dict[str, Any] | None:
    """The product's `fields` as a dict (no model instance), or None when there is no such product.

    GET /products/{id} runs this on every request: one plain SQL statement (per set of fields).
    """
    rows = _product_values_statement(tuple(fields)).fetch(product_id)
    return rows[0] if rows else None


@cache
def _product_values_statement(fields: tuple[str, ...]) -> ValuesStatement:
    return ValuesStatement(Product, fields, where="id")


def product_page_values(
    fields: Sequence[str], *, search: str | None = None, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> list[dict]:
    """A keyset page of `product_list(search=…)`, oldest first: `limit` rows of `fields` after `after` (created_at, id).

    Without a search, the page of the whole catalogue that GET /products reads on most requests,
    from one plain SQL statement written once; a search's filters vary per search, so it is a
    queryset.
    """
    if not search:
        return _product_page_statement(tuple(fields)).fetch(after, limit)
    return keyset_page(product_list(search=search).values(*fields), "created_at", after=after, limit=limit)


@cache
def _product_page_statement(fields: tuple[str, ...]) -> KeysetPageStatement:
    return KeysetPageStatement(Product, fields, ordering_field="created_at")


def product_exists(product_id: uuid.UUID) -> bool:
    return Product.objects.filter(pk=product_id).exists()
