"""Admin for the offer mirror and the sync, and the sync's additions to the product admin.

`ProductAdmin` here extends the catalogue's and takes its place: it shows the product's sync
state and cached offers and adds the "register now" and "sync offers now" actions, which call the
same functions as the worker. Besides: offers, the cycle history, and the sync status page.
"""

import uuid
from datetime import timedelta

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.db.models import Q
from django.template.response import TemplateResponse
from django.utils import timezone

from aggregator.array_parameters import uuid_among
from aggregator.large_admin import LargeTableAdminMixin
from catalogue import admin as catalogue_admin
from catalogue.models import Product
from catalogue.selectors import product_ids_named, product_list
from offers_sync.charts import sync_runs_svg
from offers_sync.gateway import offers_service_for_web
from offers_sync.models import Offer, ProductSyncState, SyncRun, SyncStatus
from offers_sync.registration import product_register_now
from offers_sync.selectors import (
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
    fields = ["id", "price", "items_in_stock", "updated_at"]
    readonly_fields = fields
    ordering = ["price"]
    extra = 0


def _sync_state_field(name: str):
    """A read-only admin field showing the product's sync state's `name` (empty without one)."""

    @admin.display(description=ProductSyncState._meta.get_field(name).verbose_name)
    def show(self, product: Product):
        state = getattr(product, "sync_state", None)
        return None if state is None else getattr(state, name)

    show.__name__ = name
    return show


class RegisteredListFilter(admin.EmptyFieldListFilter):
    """Django's "registered at: empty / not empty" filter (same choices and parameter), through the
    sync's selectors: they find the few pending products by the index of pending registrations
    instead of joining the whole catalogue to every sync state."""

    def queryset(self, request, queryset):
        if self.lookup_kwarg not in self.used_parameters:
            return queryset
        if self.lookup_val == "1":
            return products_not_registered(queryset, now=timezone.now())
        if self.lookup_val == "0":
            return products_registered(queryset)
        raise IncorrectLookupParameters


class ProductAdmin(catalogue_admin.ProductAdmin):
    list_display = [
        "name",
        "id",
        "registered",
        "sync_state__offers_synced_at",
        "sync_state__last_sync_error",
        "created_at",
    ]
    # The page's sync states in one query of their own (get_queryset), not joined: a join would be
    # made for every row an OFFSET skips too.
    list_select_related = ()
    list_filter = [("sync_state__registered_at", RegisteredListFilter)]
    actions = ["register_now", "sync_offers_now"]
    readonly_fields = [*catalogue_admin.ProductAdmin.readonly_fields, *SYNC_STATE_FIELDS]
    fieldsets = [*catalogue_admin.ProductAdmin.fieldsets, ("Offer sync", {"fields": SYNC_STATE_FIELDS})]
    inlines = [OfferInline]
    deleted_with_product = (*catalogue_admin.ProductAdmin.deleted_with_product, Offer, ProductSyncState)

    registered_at = _sync_state_field("registered_at")
    registration_attempts = _sync_state_field("registration_attempts")
    next_registration_at = _sync_state_field("next_registration_at")
    offers_synced_at = _sync_state_field("offers_synced_at")
    last_sync_error = _sync_state_field("last_sync_error")
    last_sync_error_at = _sync_state_field("last_sync_error_at")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("sync_state")

    @admin.display(boolean=True)
    def registered(self, product: Product) -> bool:
        state = getattr(product, "sync_state", None)
        return state is not None and state.is_registered

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


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "started_at",
        "worker",
        "tick",
        "outcome",
        "products_synced",
        "products_failed",
        "products_unregistered",
        "products_registered",
        "offers_added",
        "offers_changed",
        "offers_removed",
        "duration",
    ]
    list_filter = ["outcome", "worker", "started_at"]
    date_hierarchy = "started_at"
    search_fields = ["=cycle_id", "worker"]
    ordering = ["-started_at", "-id"]
    show_full_result_count = False

    @admin.display(description="duration (s)", ordering="duration_seconds")
    def duration(self, run: SyncRun) -> str:
        return f"{run.duration_seconds:.2f}"


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


def parse_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


@admin.register(SyncStatus)
class SyncStatusAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """One page instead of the singleton row: the last cycles, a chart of the last day, the products
    that need attention (stale, or not yet registered)."""

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
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/offers_sync/sync_status.html", context)
