"""Admin for the offer mirror and the sync: offers, the cycle history, and the sync status page."""

from datetime import timedelta

from django.contrib import admin
from django.template.response import TemplateResponse
from django.utils import timezone

from offers_sync.charts import sync_runs_svg
from offers_sync.models import Offer, SyncRun, SyncStatus
from offers_sync.selectors import (
    products_pending,
    products_stale,
    sync_gauges,
    sync_runs_latest,
    sync_runs_since,
    sync_stale_before,
)

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


@admin.register(Offer)
class OfferAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "product", "price", "items_in_stock", "updated_at"]
    list_select_related = ["product"]
    search_fields = ["=id", "product__name"]

    def has_view_permission(self, request, obj=None):
        return request.user.is_staff


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

    def has_view_permission(self, request, obj=None):
        return request.user.is_staff


@admin.register(SyncStatus)
class SyncStatusAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """One page instead of the singleton row: the last cycles, a chart of the last day, the products
    that need attention (stale, or not yet registered)."""

    def has_view_permission(self, request, obj=None):
        return request.user.is_staff

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
            "pending": products_pending(limit=PRODUCTS_LISTED),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/offers_sync/sync_status.html", context)
