from django.contrib import admin

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
class OfferAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "product", "price", "items_in_stock", "updated_at"]
    list_select_related = ["product"]
    search_fields = ["=id", "product__name"]

    def has_view_permission(self, request, obj=None):
        return request.user.is_staff


@admin.register(SyncStatus)
class SyncStatusAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "last_cycle_started_at", "last_cycle_finished_at", "last_cycle_summary"]
