"""Admin for the price history: a read-only event list, and the panel on a product's change page.

`ProductAdmin` here extends the offer sync's product admin and takes its place; its
`change_form_template` renders `{% price_history_panel original %}` below the offers.
"""

from django.contrib import admin

from catalogue.models import Product
from offers_sync import admin as offers_sync_admin
from offers_sync.admin import ReadOnlyAdminMixin
from price_history.models import PriceEvent


class ProductAdmin(offers_sync_admin.ProductAdmin):
    # Adds the price history panel (chart and latest events) below the offers.
    change_form_template = "price_history/product_change_form.html"
    deleted_with_product = (*offers_sync_admin.ProductAdmin.deleted_with_product, PriceEvent)


admin.site.unregister(Product)
admin.site.register(Product, ProductAdmin)


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
