"""The catalogue's admin: products and their catalogue fields.

Apps that add state to a product extend `ProductAdmin` from their own admin module and register
their subclass in its place (offers_sync adds the sync state, the offers and the sync actions;
price_history adds its panel), so nothing here names them.
"""

from django.contrib import admin
from django.utils.html import format_html
from import_export.admin import ImportExportModelAdmin
from import_export.formats.base_formats import CSV, XLSX

from aggregator.admin_display import AdminStyle, when
from aggregator.large_admin import LargeTableAdminMixin
from catalogue.models import Product
from catalogue.resources import ProductResource
from catalogue.services import product_delete


@admin.register(Product)
class ProductAdmin(LargeTableAdminMixin, ImportExportModelAdmin):
    # CSV and XLSX import/export (django-import-export): imported products are left for the worker.
    resource_classes = [ProductResource]
    import_formats = [CSV, XLSX]
    export_formats = [CSV, XLSX]
    Media = AdminStyle
    # No id column: a UUID wraps to several lines; the product page shows it.
    list_display = ["name", "created"]
    # Each word (or "a quoted phrase") somewhere in the name, in any case: Django's search, one
    # `name__icontains` per word, which the trigram index answers on PostgreSQL (see Product.Meta).
    search_fields = ["name"]
    ordering = ["-created_at"]
    # Only what the (created_at, id) index orders; sorting a million names would take seconds.
    sortable_by = ["created"]
    readonly_fields = ["id", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["id", "name", "description", "created_at", "updated_at"]}),
    ]
    # Models whose rows go with their product although nobody may delete them by hand (read-only
    # mirrors); an extending admin adds its own, see `get_deleted_objects`.
    deleted_with_product: tuple[type, ...] = ()

    @admin.display(description="created", ordering="created_at")
    def created(self, product: Product):
        # The day is what tells products apart in a list; the time to the second is in the tooltip.
        return format_html('<span title="{}">{}</span>', when(product.created_at), when(product.created_at)[:10])

    def delete_model(self, request, obj):
        # Through the service, which locks the row against a worker writing its offers meanwhile.
        product_delete(product=obj)

    def get_deleted_objects(self, objs, request):
        """Without this, Django would refuse to delete a product that has rows in `deleted_with_product`:
        nobody holds a delete permission on read-only mirrors."""
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed -= {model._meta.verbose_name for model in self.deleted_with_product}
        return deleted, model_count, perms_needed, protected

    def delete_queryset(self, request, queryset):
        for product in queryset:
            product_delete(product=product)
