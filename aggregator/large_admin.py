"""Admin change lists for tables too large to count or to page through with OFFSET.

Django's change list counts the whole result for its paginator (a `COUNT(*)` of a million rows
on every load, and of every match of a search) and reaches page N with `OFFSET (N-1) × per page`,
which reads and throws away every row before it. `LargeTableAdminMixin` replaces both:

- the count is the planner's estimate (`pg_class.reltuples`, kept by autovacuum) for the whole
  table on PostgreSQL, and otherwise an exact count that stops one row past what can be paged
  (`SELECT COUNT(*) FROM (SELECT … LIMIT n)`), shown as "more than n";
- only the first `max_pages` pages are offered (`max_pages_filtered` for a search or filter), so
  no OFFSET is deeper than `(max_pages - 1) × list_per_page` rows. The rest is reached the way
  one finds anything in a large table: search, a filter, or the other sort order.

Sorting is limited (`sortable_by`) by each admin to columns an index serves, and facet counts
are off: each would be a count over the table.
"""

from django.contrib import admin
from django.contrib.admin.options import IS_FACETS_VAR, IS_POPUP_VAR, TO_FIELD_VAR
from django.contrib.admin.views.main import ERROR_FLAG, ORDER_VAR, PAGE_VAR, SEARCH_VAR
from django.core.paginator import Paginator
from django.db import connections
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

# The change list's own parameters that do not narrow the rows (an empty search does not either).
_UNFILTERING_PARAMETERS = {PAGE_VAR, ORDER_VAR, ERROR_FLAG, IS_POPUP_VAR, TO_FIELD_VAR, IS_FACETS_VAR}


class LargeTablePaginator(Paginator):
    """A paginator that offers at most `max_pages` pages and never counts the whole table.

    `estimate_table`: the table whose size the planner's estimate may stand for, when the rows
    paged are all of that table's (no filter, no search).
    """

    def __init__(self, object_list, per_page, *, max_pages: int, estimate_table: str | None = None, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.max_pages = max_pages
        self.estimate_table = estimate_table
        self.count_is_estimate = False
        self.count_is_lower_bound = False

    @cached_property
    def pageable_rows(self) -> int:
        return self.max_pages * self.per_page

    @cached_property
    def count(self) -> int:
        if self.estimate_table is not None:
            estimate = _estimated_rows(self.object_list.db, self.estimate_table)
            if estimate is not None and estimate > self.pageable_rows:
                self.count_is_estimate = True
                return estimate
        # One row past what can be paged: enough to know there is more, cheap however many match.
        bounded = self.object_list.order_by()[: self.pageable_rows + 1].count()
        self.count_is_lower_bound = bounded > self.pageable_rows
        return bounded

    @cached_property
    def num_pages(self) -> int:
        return min(self.max_pages, super().num_pages)

    def describe_count(self, opts) -> str:
        """ "1,000 products", "about 1,000,000 products" or "more than 10,000 products"."""
        name = opts.verbose_name if self.count == 1 else opts.verbose_name_plural
        if self.count_is_estimate:
            return _("about %(count)s %(name)s") % {"count": f"{self.count:,}", "name": name}
        if self.count_is_lower_bound:
            return _("more than %(count)s %(name)s") % {"count": f"{self.pageable_rows:,}", "name": name}
        return f"{self.count:,} {name}"

    def describe_limit(self) -> str:
        """Why the page links stop, when they do."""
        if self.count <= self.pageable_rows:
            return ""
        return ngettext(
            "Only the first page is offered: search, filter or sort to reach the others.",
            "Only the first %(pages)s pages are offered: search, filter or sort to reach the others.",
            self.max_pages,
        ) % {"pages": self.max_pages}


def _is_unfiltered(parameters) -> bool:
    """Whether the change list shows the whole table: no filter, and no search or an empty one."""
    narrowing = set(parameters) - _UNFILTERING_PARAMETERS
    if SEARCH_VAR in narrowing and not parameters.get(SEARCH_VAR, "").strip():
        narrowing.discard(SEARCH_VAR)
    return not narrowing


def _estimated_rows(alias: str, table: str) -> int | None:
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)", [table])
        row = cursor.fetchone()
    # -1: never vacuumed or analysed, so PostgreSQL does not know.
    return int(row[0]) if row and row[0] >= 0 else None


class LargeTableAdminMixin:
    """For a ModelAdmin of a large table: bounded counts, no deep OFFSET, no facet counts."""

    # Fifty rows, not Django's hundred: rendering the rows is most of a page's time.
    list_per_page = 50
    max_pages = 100
    # A search's or filter's rows are counted and paged to fewer pages: counting the matches up
    # to `max_pages × list_per_page`, or skipping that many with OFFSET, reads all of them (through
    # a join for offers and events found by product name), and a search is narrowed further
    # rather than paged through.
    max_pages_filtered = 10
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    change_list_template = "admin/large_table/change_list.html"

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        unfiltered = _is_unfiltered(request.GET)
        return LargeTablePaginator(
            queryset,
            per_page,
            max_pages=self.max_pages if unfiltered else self.max_pages_filtered,
            estimate_table=self.model._meta.db_table if unfiltered else None,
            orphans=orphans,
            allow_empty_first_page=allow_empty_first_page,
        )
