"""Admin for the price history: a read-only event list, and the panel on a product's change page.

The panel (chart and latest events) is added to the product page by `ProductAdmin`'s
`change_form_template`, which renders `{% price_history_panel original %}` below the offers.
"""

from django.contrib import admin
from django.db.models import Q

from aggregator.large_admin import LargeTableAdminMixin
from catalogue.selectors import product_list
from offers_sync.admin import ReadOnlyAdminMixin, parse_uuid
from offers_sync.models import Offer
from price_history.models import PriceEvent


@admin.register(PriceEvent)
class PriceEventAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["observed_at", "product", "offer_id", "kind", "price", "items_in_stock"]
    # A date filter rather than a date hierarchy: the hierarchy lists the years, months or days
    # that have events with a DISTINCT over all of them, on every load.
    list_filter = ["kind", "observed_at"]
    list_select_related = ["product"]
    search_fields = ["offer_id", "product__name"]  # shows the search box; the search itself is below
    search_help_text = "An offer's or a product's id, or part of a product's name."
    ordering = ["-observed_at", "-id"]
    sortable_by = ["observed_at"]

    def get_search_results(self, request, queryset, search_term):
        return events_matching(queryset, search_term), False

    def has_view_permission(self, request, obj=None):
        return request.user.is_staff


def events_matching(queryset, search_term: str):
    """The events of this offer or product id, or of the products whose name contains the term.

    The event indexes all lead with the product, so an offer is looked for among its product's
    events (the mirror knows the product); an offer that has vanished from the mirror is looked
    for among all events, which reads the whole (product, offer) index.
    """
    term = search_term.strip()
    if not term:
        return queryset
    as_uuid = parse_uuid(term)
    if as_uuid is None:
        return queryset.filter(product__in=product_list(search=term))
    offer_product = Offer.objects.filter(pk=as_uuid).values_list("product_id", flat=True).first()
    of_offer = Q(offer_id=as_uuid) if offer_product is None else Q(product_id=offer_product, offer_id=as_uuid)
    return queryset.filter(Q(product_id=as_uuid) | of_offer)
