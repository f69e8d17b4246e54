"""Admin for the offer mirror and the sync, and the sync's additions to the product admin.

`ProductAdmin` here extends the catalogue's and takes its place: it shows the product's sync
state and cached offers and adds the "register now" and "sync offers now" actions, which call the
same functions as the worker. Besides: offers, the cycle history, and the sync status page.
"""

from datetime import timedelta

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.db.models import Q
from django.template.defaultfilters import pluralize
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html

from aggregator.admin_display import (
    NOTHING,
    AdminStyle,
    change_link,
    changelist_link,
    short_id,
    status_word,
    truncated,
    when,
)
from aggregator.array_parameters import uuid_among
from aggregator.large_admin import LargeTableAdminMixin
from aggregator.money import format_money
from aggregator.params import parse_uuid
from catalogue import admin as catalogue_admin
from catalogue.models import Product
from catalogue.selectors import product_ids_named, product_list
from offers_sync.charts import sync_runs_svg
from offers_sync.gateway import offers_service_for_web
from offers_sync.models import Offer, ProductSyncState, SyncRun, SyncStatus
from offers_sync.registration import product_register_now
from offers_sync.selectors import (
    offer_counts_and_best_prices,
    products_not_registered,
    products_pending,
    products_registered,
    products_stale,
    sync_gauges,
    sync_runs_latest,
    sync_runs_since,
    sync_stale_before,
)
from offers_sync.sync import OfferSyncer

# Admin actions call the offers service while the admin waits; keep them to a sensible size.
MAX_PRODUCTS_PER_ACTION = 50
# Written by the sync, shown to admins, edited by nobody.
SYNC_STATE_FIELDS = [
    "registered_at",
    "registration_attempts",
    "next_registration_at",
    "offers_synced_at",
    "last_sync_error",
    "last_sync_error_at",
]
# What the sync status page lists.
LATEST_CYCLES = 20
PRODUCTS_LISTED = 50
CHART_PERIOD = timedelta(days=1)


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
    fields = ["offer", "price_shown", "items_in_stock", "updated_at"]
    readonly_fields = fields
    ordering = ["price", "id"]
    extra = 0
    verbose_name_plural = "offers, cheapest first"

    @admin.display(description="offer")
    def offer(self, offer: Offer):
        return change_link("offers_sync", "offer", offer.pk, short_id(offer.pk))

    @admin.display(description="price")
    def price_shown(self, offer: Offer) -> str:
        return format_money(offer.price)


def _sync_state_field(name: str, description: str, *, empty: str = NOTHING):
    """A read-only admin field showing the product's sync state's `name` (times to the second)."""

    @admin.display(description=description)
    def show(self, product: Product):
        state = getattr(product, "sync_state", None)
        value = None if state is None else getattr(state, name)
        if value is None or value == "":
            return empty
        return when(value) if hasattr(value, "tzinfo") else value

    show.__name__ = name
    return show


class RegisteredListFilter(admin.EmptyFieldListFilter):
    """ "Registered: yes / no" (Django's empty-field parameter, so links and bookmarks keep
    working), through the sync's selectors: they find the few pending products by the index of
    pending registrations instead of joining the whole catalogue to every sync state."""

    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)
        self.title = "registered"

    def choices(self, changelist):
        # Django's "Empty / Not empty" read backwards here: an empty registration time is "no".
        labels = {None: "All", "0": "Yes", "1": "No"}
        for lookup, label in labels.items():
            yield {
                "selected": self.lookup_val == lookup,
                "query_string": changelist.get_query_string(
                    {self.lookup_kwarg: lookup} if lookup else {}, [self.lookup_kwarg]
                ),
                "display": label,
            }

    def queryset(self, request, queryset):
        if self.lookup_kwarg not in self.used_parameters:
            return queryset
        if self.lookup_val == "1":
            return products_not_registered(queryset, now=timezone.now())
        if self.lookup_val == "0":
            return products_registered(queryset)
        raise IncorrectLookupParameters


class ProductChangeList(ChangeList):
    """The product list with each row's offer count and best price, from one query for the page."""

    def get_results(self, request):
        super().get_results(request)
        products = list(self.result_list)  # the page's rows, now fetched (and kept for the template)
        stats = offer_counts_and_best_prices([product.pk for product in products])
        for product in products:
            product.offer_stats = stats.get(product.pk, (0, None))


class ProductAdmin(catalogue_admin.ProductAdmin):
    # `created` stays the sixth column: "?o=6" (oldest first) in bookmarks and bench/million.py.
    list_display = ["name", "registered", "offer_count", "best_price", "offers_synced", "created"]
    # The page's sync states in one query of their own (get_queryset), not joined: a join would be
    # made for every row an OFFSET skips too.
    list_select_related = ()
    list_filter = [("sync_state__registered_at", RegisteredListFilter)]
    actions = ["register_now", "sync_offers_now"]
    readonly_fields = [*catalogue_admin.ProductAdmin.readonly_fields, *SYNC_STATE_FIELDS, "offers_summary"]
    fieldsets = [
        *catalogue_admin.ProductAdmin.fieldsets,
        ("Offer sync", {"fields": ["offers_summary", *SYNC_STATE_FIELDS]}),
    ]
    inlines = [OfferInline]
    deleted_with_product = (*catalogue_admin.ProductAdmin.deleted_with_product, Offer, ProductSyncState)

    registered_at = _sync_state_field("registered_at", "registered", empty="not yet")
    registration_attempts = _sync_state_field("registration_attempts", "registration attempts", empty="0")
    next_registration_at = _sync_state_field("next_registration_at", "next registration attempt")
    offers_synced_at = _sync_state_field("offers_synced_at", "offers last synced", empty="never")
    last_sync_error = _sync_state_field("last_sync_error", "last sync error", empty="none")
    last_sync_error_at = _sync_state_field("last_sync_error_at", "last sync error at")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("sync_state")

    def get_changelist(self, request, **kwargs):
        return ProductChangeList

    @admin.display(description="registered")
    def registered(self, product: Product):
        state = getattr(product, "sync_state", None)
        if state is not None and state.registered_at is not None:
            return status_word("yes", "ok")
        return status_word("no", "warning")

    @admin.display(description="offers")
    def offer_count(self, product: Product) -> int:
        return product.offer_stats[0]

    @admin.display(description="best price")
    def best_price(self, product: Product) -> str:
        best = product.offer_stats[1]
        return NOTHING if best is None else format_money(best)

    @admin.display(description="offers synced")
    def offers_synced(self, product: Product) -> str:
        """When the offers were last mirrored, or the error since (cut; whole on the product's page)."""
        state = getattr(product, "sync_state", None)
        if state is None:
            return "never"
        failed_since = state.last_sync_error and (
            state.offers_synced_at is None
            or state.last_sync_error_at is None
            or state.last_sync_error_at > state.offers_synced_at
        )
        if failed_since:
            return format_html("{} {}", status_word("error", "error"), truncated(state.last_sync_error, 20))
        return when(state.offers_synced_at, empty="never")

    @admin.display(description="offers")
    def offers_summary(self, product: Product):
        stats = offer_counts_and_best_prices([product.pk]).get(product.pk, (0, None))
        if not stats[0]:
            return "none mirrored"
        best = "none in stock" if stats[1] is None else f"best in-stock price {format_money(stats[1])}"
        return format_html(
            "{} ({}), listed below · {}",
            f"{stats[0]} offer{pluralize(stats[0])}",
            best,
            changelist_link("offers_sync", "offer", "see them in the offers list", q=str(product.pk)),
        )

    @admin.action(description="Register with the offers service now", permissions=["change"])
    def register_now(self, request, queryset):
        if not self._service_or_warn(request):
            return
        pending = list(queryset.filter(sync_state__registered_at__isnull=True)[:MAX_PRODUCTS_PER_ACTION])
        registered = sum(product_register_now(product=product) for product in pending)
        level = messages.SUCCESS if registered == len(pending) else messages.WARNING
        self.message_user(request, f"Registered {registered} of {len(pending)} pending product(s).", level)

    @admin.action(description="Sync offers now", permissions=["change"])
    def sync_offers_now(self, request, queryset):
        service = self._service_or_warn(request)
        if not service:
            return
        product_ids = list(
            queryset.filter(sync_state__registered_at__isnull=False).values_list("id", flat=True)[
                :MAX_PRODUCTS_PER_ACTION
            ]
        )
        summary = OfferSyncer(service=service, concurrency=4, worker_name="admin").sync_products(product_ids)
        level = messages.SUCCESS if not summary.products_failed else messages.WARNING
        self.message_user(request, f"Synced {len(product_ids)} registered product(s): {summary.describe()}", level)

    def _service_or_warn(self, request):
        service = offers_service_for_web()
        if service is None:
            self.message_user(request, "OFFERS_SERVICE_URL and OFFERS_REFRESH_TOKEN are not set.", messages.ERROR)
        return service


admin.site.unregister(Product)
admin.site.register(Product, ProductAdmin)


@admin.register(Offer)
class OfferAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    Media = AdminStyle
    list_display = ["offer", "product_link", "price_shown", "items_in_stock", "updated_at"]
    fields = ["id", "product_link", "price_shown", "items_in_stock", "created_at", "updated_at"]
    readonly_fields = fields
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

    def change_view(self, request, object_id, form_url="", extra_context=None):
        offer = self.get_object(request, object_id)
        context = {} if offer is None else {"subtitle": f"{format_money(offer.price)} · {offer.product.name}"}
        return super().change_view(request, object_id, form_url, {**context, **(extra_context or {})})

    @admin.display(description="offer")
    def offer(self, offer: Offer):
        return short_id(offer.pk)

    @admin.display(description="product")
    def product_link(self, offer: Offer):
        return change_link("catalogue", "product", offer.product_id, offer.product.name)

    @admin.display(description="price")
    def price_shown(self, offer: Offer) -> str:
        return format_money(offer.price)


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    Media = AdminStyle
    list_display = ["started_at", "worker", "outcome_shown", "products", "registrations", "offers", "duration"]
    # The date hierarchy narrows by date already.
    list_filter = ["outcome", "worker"]
    date_hierarchy = "started_at"
    search_fields = ["=cycle_id", "worker"]
    ordering = ["-started_at", "-id"]
    show_full_result_count = False

    @admin.display(description="outcome", ordering="outcome")
    def outcome_shown(self, run: SyncRun):
        tone = {SyncRun.Outcome.COMPLETED: "ok", SyncRun.Outcome.STOPPED: "warning"}.get(run.outcome, "error")
        word = status_word(run.get_outcome_display(), tone)
        if run.reason:
            return format_html("{} {}", word, truncated(run.reason, 40))
        return word

    @admin.display(description="synced / failed")
    def products(self, run: SyncRun) -> str:
        return f"{run.products_synced:,} / {run.products_failed:,}"

    @admin.display(description="registered")
    def registrations(self, run: SyncRun) -> str:
        failed = f" ({run.registrations_failed:,} failed)" if run.registrations_failed else ""
        return f"{run.products_registered:,}{failed}"

    @admin.display(description="offers + / ~ / −")
    def offers(self, run: SyncRun) -> str:
        return f"{run.offers_added:,} / {run.offers_changed:,} / {run.offers_removed:,}"

    @admin.display(description="duration", ordering="duration_seconds")
    def duration(self, run: SyncRun) -> str:
        return f"{run.duration_seconds:.2f} s"


# A search by product name finding at most this many products looks their rows up by their ids.
# Left to the planner, a join expects the products to have as many offers (or events) as any, and
# walks the whole list for products that have few or none yet: a line of products just added,
# seconds at 5,000,000 offers.
MAX_PRODUCTS_BY_ID = 10_000


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
    product_ids = product_ids_named(term, at_most=MAX_PRODUCTS_BY_ID)
    if product_ids is not None:
        # A list: PostgreSQL reads each product's offers from the (product, price, id) index, in
        # its order. (Joined from a set of ids instead, it walks every offer.)
        return queryset.filter(uuid_among(Offer, "product_id", product_ids, using=queryset.db))
    # Many products: the offers in index order meet a page of theirs soon.
    return queryset.filter(product__in=product_list(search=term))


@admin.register(SyncStatus)
class SyncStatusAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """One page instead of the singleton row: the last cycles, a chart of the last day, the products
    that need attention (stale, or not yet registered).

    Apps that watch other work (the webhooks) extend it and take its place: `status_template`
    extends this page's template and fills its `more_status` block from `more_status_context`.
    """

    status_template = "admin/offers_sync/sync_status.html"

    def more_status_context(self, request, *, now) -> dict:
        """What an extending admin adds to the page's context."""
        return {}

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            return super().changelist_view(request, extra_context)  # Django's own refusal
        now = timezone.now()
        since = now - CHART_PERIOD
        status = SyncStatus.objects.filter(pk=SyncStatus.SINGLETON_ID).first()
        context = {
            **self.admin_site.each_context(request),
            "title": "Sync status",
            "opts": self.model._meta,
            "status": status,
            "gauges": sync_gauges(now=now),
            "stale_before": sync_stale_before(now),
            "cycles": sync_runs_latest(limit=LATEST_CYCLES),
            "chart": sync_runs_svg(sync_runs_since(since), since=since, until=now),
            "stale": products_stale(now=now, limit=PRODUCTS_LISTED),
            "pending": products_pending(now=now, limit=PRODUCTS_LISTED),
            **self.more_status_context(request, now=now),
            **(extra_context or {}),
        }
        return TemplateResponse(request, self.status_template, context)


# The admin's front page starts with a link to the status page.
admin.site.index_template = "admin/offers_sync/index.html"
