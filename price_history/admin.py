"""Admin for the price history: a read-only event list, and the panel on a product's change page.

`ProductAdmin` here extends the offer sync's product admin and takes its place; its
`change_form_template` renders `{% price_history_panel original %}` below the offers. `OfferAdmin`
extends the offer sync's the same way, adding the link to each offer's events.
"""

from django.contrib import admin
from django.db.models import Q

from aggregator.admin_display import AdminStyle, change_link, changelist_link, short_id, status_word
from aggregator.array_parameters import uuid_rows
from aggregator.large_admin import LargeTableAdminMixin
from aggregator.money import format_money
from aggregator.params import parse_uuid
from catalogue.models import Product
from catalogue.selectors import product_ids_named, product_list
from offers_sync import admin as offers_sync_admin
from offers_sync.admin import MAX_PRODUCTS_BY_ID, ReadOnlyAdminMixin
from offers_sync.models import Offer
from price_history.models import PriceEvent


class ProductAdmin(offers_sync_admin.ProductAdmin):
    # Adds the price history panel (chart and latest events) below the offers.
    change_form_template = "price_history/product_change_form.html"
    deleted_with_product = (*offers_sync_admin.ProductAdmin.deleted_with_product, PriceEvent)


admin.site.unregister(Product)
admin.site.register(Product, ProductAdmin)


def _offer_events_link(offer: Offer, text: str = "events"):
    # By the offer's id, which the events' search looks for among its product's events.
    return changelist_link("price_history", "priceevent", text, q=str(offer.pk))


class OfferAdmin(offers_sync_admin.OfferAdmin):
    list_display = [*offers_sync_admin.OfferAdmin.list_display, "price_events"]
    fields = [*offers_sync_admin.OfferAdmin.fields, "price_events_of_offer"]
    readonly_fields = fields

    @admin.display(description="history")
    def price_events(self, offer: Offer):
        return _offer_events_link(offer)

    @admin.display(description="price events")
    def price_events_of_offer(self, offer: Offer):
        return _offer_events_link(offer, "see this offer's price events")


admin.site.unregister(Offer)
admin.site.register(Offer, OfferAdmin)

KIND_TONES = {PriceEvent.Kind.APPEARED: "ok", PriceEvent.Kind.CHANGED: "muted", PriceEvent.Kind.VANISHED: "warning"}


@admin.register(PriceEvent)
class PriceEventAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    Media = AdminStyle
    list_display = ["observed_at", "product_link", "offer", "kind_shown", "price_shown", "items_in_stock"]
    fields = ["observed_at", "product_link", "offer", "kind_shown", "price_shown", "items_in_stock"]
    readonly_fields = fields
    # A date filter rather than a date hierarchy: the hierarchy lists the years, months or days
    # that have events with a DISTINCT over all of them, on every load.
    list_filter = ["kind", "observed_at"]
    # The page's products in one query of their own (get_queryset), not joined: a join would be
    # made for every row an OFFSET skips too.
    list_select_related = ()
    search_fields = ["offer_id", "product__name"]  # shows the search box; the search itself is below
    search_help_text = "An offer's or a product's id, or part of a product's name."
    ordering = ["-observed_at", "-id"]
    sortable_by = ["observed_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("product")

    def get_search_results(self, request, queryset, search_term):
        return events_matching(queryset, search_term), False

    @admin.display(description="product")
    def product_link(self, event: PriceEvent):
        return change_link("catalogue", "product", event.product_id, event.product.name)

    @admin.display(description="offer")
    def offer(self, event: PriceEvent):
        # The offer's page while it is mirrored (after it vanished, the admin says it is gone).
        return change_link("offers_sync", "offer", event.offer_id, short_id(event.offer_id))

    @admin.display(description="event", ordering="kind")
    def kind_shown(self, event: PriceEvent):
        return status_word(event.get_kind_display(), KIND_TONES.get(event.kind, "muted"))

    @admin.display(description="price")
    def price_shown(self, event: PriceEvent) -> str:
        return format_money(event.price)


def events_matching(queryset, search_term: str):
    """The events of this product id or mirrored offer id, or of the products whose name contains the term.

    The event indexes all lead with the product, so an offer is looked for among its product's
    events, which the mirror names. An offer no longer mirrored is not looked for: without its
    product that would read the whole (product, offer) index, seconds at 10,000,000 events; its
    events are found by its product's id or name.
    """
    term = search_term.strip()
    if not term:
        return queryset
    as_uuid = parse_uuid(term)
    if as_uuid is None:
        product_ids = product_ids_named(term, at_most=MAX_PRODUCTS_BY_ID)
        if product_ids is not None:
            # Joined from the products' ids to their events (the indexes lead with the product),
            # then sorted: a list of ids to check would have the planner walk the events by time.
            return queryset.filter(product_id__in=uuid_rows(product_ids, using=queryset.db))
        return queryset.filter(product__in=product_list(search=term))
    of_product = Q(product_id=as_uuid)
    offer_product = Offer.objects.filter(pk=as_uuid).values_list("product_id", flat=True).first()
    if offer_product is None:
        return queryset.filter(of_product)
    return queryset.filter(of_product | Q(product_id=offer_product, offer_id=as_uuid))
