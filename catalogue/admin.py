from django.contrib import admin

from catalogue.models import Product
from offers_sync.admin import OfferInline


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "id", "registered", "offers_synced_at", "last_sync_error", "created_at"]
    list_filter = [("registered_at", admin.EmptyFieldListFilter)]
    search_fields = ["name"]
    ordering = ["-created_at"]
    readonly_fields = [
        "id",
        "created_at",
        "updated_at",
        "registered_at",
        "registration_attempts",
        "next_registration_at",
        "offers_synced_at",
        "last_sync_error",
        "last_sync_error_at",
    ]
    fieldsets = [
        (None, {"fields": ["id", "name", "description", "created_at", "updated_at"]}),
        (
            "Offer sync",
            {
                "fields": [
                    "registered_at",
                    "registration_attempts",
                    "next_registration_at",
                    "offers_synced_at",
                    "last_sync_error",
                    "last_sync_error_at",
                ]
            },
        ),
    ]
    inlines = [OfferInline]
    # Adds the price history panel (chart and latest events) below the offers.
    change_form_template = "price_history/product_change_form.html"

    @admin.display(boolean=True, ordering="registered_at")
    def registered(self, product: Product) -> bool:
        return product.is_registered
