import uuid

from django.contrib import admin
from django.db.models import Q

from aggregator.large_admin import LargeTableAdminMixin
from catalogue.selectors import product_list
from offers_sync.models import Offer, SyncStatus


class ReadOnlyAdminMixin:
    """Offers and sync state mirror the offers service; editing them here would be overwritten."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class OfferInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Offer
    fields = ["id", "price", "items_in_stock", "updated_at"]
    readonly_fields = fields
    ordering = ["price"]
    extra = 0


@admin.register(Offer)
class OfferAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "product", "price", "items_in_stock", "updated_at"]
    # The page's products in one query of their own (get_queryset), not joined: a join would be
    # made for every row an OFFSET skips too.
    list_select_related = ()
    # A product's offers together, cheapest first: the order of the (product, price, id) index.
    ordering = ["product_id", "price", "id"]
    sortable_by = []
    search_fields = ["id", "product__name"]  # shows the search box; the search itself is below
    search_help_text = "An offer's or a product's id, or part of a product's name."

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("product")

    def get_search_results(self, request, queryset, search_term):
        return offers_matching(queryset, search_term), False

    def has_view_permission(self, request, obj=None):
        return request.user.is_staff


def offers_matching(queryset, search_term: str):
    """The offers with this id or of this product id, or of the products whose name contains the term.

    Each a lookup an index serves (primary key, product, the name's trigram index); Django's
    default would OR them across a join and upper-case every id, which reads every offer.
    """
    term = search_term.strip()
    if not term:
        return queryset
    as_uuid = parse_uuid(term)
    if as_uuid is not None:
        return queryset.filter(Q(pk=as_uuid) | Q(product_id=as_uuid))
    return queryset.filter(product__in=product_list(search=term))


def parse_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


@admin.register(SyncStatus)
class SyncStatusAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "last_cycle_started_at", "last_cycle_finished_at", "last_cycle_summary"]
