"""Reads of the catalogue. They return querysets; callers decide how much to fetch."""

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from django.db.models import DateTimeField, ExpressionWrapper, F, QuerySet

from aggregator.pagination import keyset_page, keyset_range
from aggregator.sql import KeysetPageStatement, ValuesStatement
from catalogue.models import Product
from catalogue.search import name_contains_all, name_contains_all_checked, search_estimate

# What PostgreSQL spends per name on the two ways to a search's page (measured at 1,000,000
# products): checking the name of each product of the list in turn, and fetching and checking a
# product that the name's indexes found (then sorting them).
WALK_COST_PER_NAME = 1.0
LOOKUP_COST_PER_NAME = 2.0
# A walk that has not filled its page after this many times the names it was expected to need,
# and at least this many names, stops: its matches are not where the sample says.
WALK_PATIENCE = 4
SEARCH_WALK_ROWS = 5_000


def product_list(*, search: str | None = None) -> QuerySet[Product]:
    products = Product.objects.all()
    if search:
        products = name_contains_all(products, [search])
    return products


def product_ids_named(search: str, *, at_most: int) -> list[uuid.UUID] | None:
    """The ids of the products whose name contains `search` (as `product_list`), or None if over `at_most`.

    For lists of other tables searched by product name: with the ids in hand, their queries go
    from the products to their rows through the product's index, whatever the planner expects
    of how many rows those products have.
    """
    products = product_list(search=search)
    estimate = search_estimate(products.db, [search])
    if estimate is not None and estimate.share * estimate.names > 2 * at_most:
        return None  # PostgreSQL's statistics say so: not worth reading that many ids to find out
    ids = list(products.values_list("id", flat=True)[: at_most + 1])
    return ids if len(ids) <= at_most else None


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
    return _search_page_values(product_list(search=search), search, fields, after=after, limit=limit)


def _search_page_values(matches: QuerySet[Product], search: str, fields: Sequence[str], *, after, limit: int):
    """The page `keyset_page` gives, without walking the whole list when the matches are far along it.

    Asked for a page of matches in list order, PostgreSQL walks the list's (created_at, id) index
    and checks each name whenever it expects to meet a page of them soon, as if the matches were
    spread evenly. When they are not (a line of products added together and searched for: all of
    them at the list's end) the walk reads every name before them, 400 ms at 1,000,000 products. So
    the way is chosen here, from the same statistics, and the walk is bounded:

    - when a walk is expected to cost less than looking every match up (`limit / share` names
      checked, against the names the indexes find), the page is looked for in a stretch of the
      list about `WALK_PATIENCE` times that long (up to a `created_at` read off PostgreSQL's
      histogram of the column, so finding the stretch's end costs nothing); if the stretch holds
      less than a page, the rest come as below, from after it;
    - otherwise, and for that rest, the matches are found through the name's indexes and sorted,
      not walked: that costs what there are of them, whatever order they are in.

    Same rows, same order. Without statistics (other databases, or before the first ANALYZE) the
    planner chooses.
    """
    estimate = search_estimate(matches.db, [search])
    if estimate is None:
        return keyset_page(matches.values(*fields), "created_at", after=after, limit=limit)
    found = name_contains_all(Product.objects.all(), [search], through_index=True)
    near: list[dict] = []
    walk = limit / estimate.share if estimate.share else float("inf")
    if walk * WALK_COST_PER_NAME < estimate.looked_up * estimate.names * LOOKUP_COST_PER_NAME:
        walked = max(SEARCH_WALK_ROWS, int(WALK_PATIENCE * walk))
        stretch_end = estimate.created_at_ahead(after[0] if after else None, walked)
        if stretch_end is None:  # near the list's end: the walk is short anyway
            return keyset_page(matches.values(*fields), "created_at", after=after, limit=limit)
        stretch = name_contains_all_checked(Product.objects.filter(created_at__lte=stretch_end), [search])
        near = keyset_page(stretch.values(*fields), "created_at", after=after, limit=limit)
        if len(near) == limit:
            return near
        found = found.filter(created_at__gt=stretch_end)
    else:
        found = keyset_range(found, "created_at", after=after)
    # Ordered by an expression no index has, the planner finds these through the name's indexes
    # and sorts them, instead of walking the list.
    unwalkable = ExpressionWrapper(F("created_at") + timedelta(0), output_field=DateTimeField())
    later_ids = list(found.order_by(unwalkable, "id").values_list("id", flat=True)[: limit - len(near)])
    if not later_ids:
        return near
    return near + list(Product.objects.filter(id__in=later_ids).values(*fields).order_by("created_at", "id"))


@cache
def _product_page_statement(fields: tuple[str, ...]) -> KeysetPageStatement:
    return KeysetPageStatement(Product, fields, ordering_field="created_at")


def product_exists(product_id: uuid.UUID) -> bool:
    return Product.objects.filter(pk=product_id).exists()
