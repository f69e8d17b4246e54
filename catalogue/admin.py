from django.contrib import admin, messages
from django.db import transaction
from django.utils import timezone
from django.utils.text import smart_split, unescape_string_literal

from aggregator.large_admin import LargeTableAdminMixin
from catalogue.models import Product
from catalogue.search import name_contains_all
from catalogue.services import product_delete
from offers_sync.admin import OfferInline
from offers_sync.gateway import offers_service_for_web
from offers_sync.models import Offer
from offers_sync.registration import product_register_now
from offers_sync.sync import OfferSyncer
from price_history.models import PriceEvent

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


@admin.register(Product)
class ProductAdmin(LargeTableAdminMixin, admin.ModelAdmin):
    list_display = ["name", "id", "registered", "offers_synced_at", "last_sync_error", "created_at"]
    list_filter = [("registered_at", admin.EmptyFieldListFilter)]
    # Part of the name, in any case: the trigram index on PostgreSQL (see Product.Meta).
    search_fields = ["name"]
    ordering = ["-created_at"]
    # Only what the (created_at, id) index orders; sorting a million names would take seconds.
    sortable_by = ["created_at"]
    actions = ["register_now", "sync_offers_now"]
    readonly_fields = ["id", "created_at", "updated_at", *SYNC_STATE_FIELDS]
    fieldsets = [
        (None, {"fields": ["id", "name", "description", "created_at", "updated_at"]}),
        ("Offer sync", {"fields": SYNC_STATE_FIELDS}),
    ]
    inlines = [OfferInline]
    # Adds the price history panel (chart and latest events) below the offers.
    change_form_template = "price_history/product_change_form.html"

    def get_search_results(self, request, queryset, search_term):
        # Django's rule (each word, or "a quoted phrase", somewhere in the name, any case) through
        # the catalogue's search, which keeps the trigram index quick on words most names share.
        parts = []
        for bit in smart_split(search_term):
            if bit.startswith(('"', "'")) and bit[0] == bit[-1]:
                bit = unescape_string_literal(bit)
            parts.append(bit)
        return name_contains_all(queryset, parts), False

    @admin.display(boolean=True, ordering="registered_at")
    def registered(self, product: Product) -> bool:
        return product.is_registered

    def save_model(self, request, obj, form, change):
        if not change:
            obj.next_registration_at = timezone.now()
        super().save_model(request, obj, form, change)
        if not change:
            # Registered after the admin's transaction commits: no HTTP call inside it.
            transaction.on_commit(lambda: product_register_now(product=obj))

    def delete_model(self, request, obj):
        # Through the service, which locks the row against a worker writing its offers meanwhile.
        product_delete(product=obj)

    def get_deleted_objects(self, objs, request):
        """Offers and price events go with their product, though the admin may not edit them.

        They are read-only mirrors of the offers service, so nobody holds a delete permission on
        them; without this, Django would refuse to delete any product that has offers.
        """
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed -= {Offer._meta.verbose_name, PriceEvent._meta.verbose_name}
        return deleted, model_count, perms_needed, protected

    def delete_queryset(self, request, queryset):
        for product in queryset:
            product_delete(product=product)

    @admin.action(description="Register with the offers service now")
    def register_now(self, request, queryset):
        if not self._service_or_warn(request):
            return
        pending = list(queryset.filter(registered_at__isnull=True)[:MAX_PRODUCTS_PER_ACTION])
        registered = sum(product_register_now(product=product) for product in pending)
        level = messages.SUCCESS if registered == len(pending) else messages.WARNING
        self.message_user(request, f"Registered {registered} of {len(pending)} pending product(s).", level)

    @admin.action(description="Sync offers now")
    def sync_offers_now(self, request, queryset):
        service = self._service_or_warn(request)
        if not service:
            return
        product_ids = list(
            queryset.filter(registered_at__isnull=False).values_list("id", flat=True)[:MAX_PRODUCTS_PER_ACTION]
        )
        summary = OfferSyncer(service=service, concurrency=4, worker_name="admin").sync_products(product_ids)
        level = messages.SUCCESS if not summary.products_failed else messages.WARNING
        self.message_user(request, f"Synced {len(product_ids)} registered product(s): {summary.describe()}", level)

    def _service_or_warn(self, request):
        service = offers_service_for_web()
        if service is None:
            self.message_user(request, "OFFERS_SERVICE_URL and OFFERS_REFRESH_TOKEN are not set.", messages.ERROR)
        return service
