"""Admin for the price history: a read-only event list, and the panel on a product's change page.

The panel (chart and latest events) is added to the product page by `ProductAdmin`'s
`change_form_template`, which renders `{% price_history_panel original %}` below the offers.
"""

from django.contrib import admin

from offers_sync.admin import ReadOnlyAdminMixin
from price_history.models import PriceEvent


@admin.register(PriceEvent)
class PriceEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["observed_at", "product", "offer_id", "kind", "price", "items_in_stock"]
    list_filter = ["kind"]
    list_select_related = ["product"]
    search_fields = ["=offer_id", "product__name"]
    ordering = ["-observed_at", "-id"]
    date_hierarchy = "observed_at"
    # Counting a large history for the paginator would cost more than showing a page.
    show_full_result_count = False

    def has_view_permission(self, request, obj=None):
        return request.user.is_staff
