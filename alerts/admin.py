"""Admin for webhooks: endpoints (active, failing since), deliveries with their attempts and a
"retry now" action, alerts, and the alerts of a product on its page.

The product page gains its alerts by extending whichever product admin is registered (the
catalogue's, as extended by the apps before this one) and taking its place, so nothing below
names this app. Secrets are never shown.
"""

from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.utils.html import format_html, format_html_join

from alerts.models import Alert, AlertReference, Delivery, DeliveryAttempt, WebhookEndpoint
from alerts.services import deliveries_retry_now
from catalogue.models import Product


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


_registered_product_admin = type(admin.site.get_model_admin(Product))


class ProductAdmin(_registered_product_admin):
    # A read-only panel rather than an inline: an inline's formset would be one more form that
    # every save of the product page must carry.
    readonly_fields = [*_registered_product_admin.readonly_fields, "alerts_on_product"]
    fieldsets = [*_registered_product_admin.fieldsets, ("Alerts", {"fields": ["alerts_on_product"]})]
    deleted_with_product = (*_registered_product_admin.deleted_with_product, Alert, AlertReference)

    @admin.display(description="alerts on this product")
    def alerts_on_product(self, product: Product):
        alerts = list(
            Alert.objects.filter(product=product).select_related("owner", "endpoint").order_by("created_at")[:100]
        )
        if not alerts:
            return "none"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (a.kind, "" if a.threshold is None else a.threshold, a.owner, a.endpoint.url, a.created_at)
                for a in alerts
            ),
        )
        return format_html(
            "<table><tr><th>kind</th><th>threshold</th><th>owner</th><th>endpoint</th><th>created</th></tr>{}</table>",
            rows,
        )


admin.site.unregister(Product)
admin.site.register(Product, ProductAdmin)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["url", "owner", "is_active", "failing_since", "created_at"]
    list_filter = ["is_active", ("failing_since", admin.EmptyFieldListFilter)]
    list_select_related = ["owner"]
    search_fields = ["url", "description", "owner__username"]
    fields = ["id", "owner", "url", "description", "is_active", "failing_since", "created_at", "updated_at"]
    readonly_fields = ["id", "owner", "url", "failing_since", "created_at", "updated_at"]
    ordering = ["-created_at"]

    def has_add_permission(self, request):
        # Endpoints are created through the API, which checks the URL and shows the secret once.
        return False


class AttemptInline(ReadOnlyInline):
    model = DeliveryAttempt
    fields = ["attempted_at", "status_code", "error", "duration_ms"]
    readonly_fields = fields
    ordering = ["-attempted_at"]


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "endpoint",
        "event_type",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "next_attempt_at",
        "delivered_at",
    ]
    list_filter = ["status"]
    list_select_related = ["endpoint", "event"]
    search_fields = ["=id", "=event__id", "endpoint__url"]
    fields = [
        "id",
        "endpoint",
        "event",
        "event_body",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "next_attempt_at",
        "delivered_at",
        "created_at",
    ]
    readonly_fields = fields
    ordering = ["-created_at"]
    inlines = [AttemptInline]
    actions = ["retry_now"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="event")
    def event_type(self, delivery: Delivery) -> str:
        return delivery.event.type

    @admin.display(description="body")
    def event_body(self, delivery: Delivery) -> str:
        return delivery.event.body

    def has_retry_permission(self, request) -> bool:
        # The change permission, which the read-only page itself never grants (has_change_permission).
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.{get_permission_codename('change', opts)}")

    @admin.action(description="Retry now", permissions=["retry"])
    def retry_now(self, request, queryset):
        count = deliveries_retry_now(deliveries=queryset)
        self.message_user(request, f"{count} deliveries are due now.", messages.SUCCESS)


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["kind", "threshold", "product", "endpoint", "owner", "created_at"]
    list_filter = ["kind"]
    list_select_related = ["product", "endpoint", "owner"]
    search_fields = ["=id", "product__name", "endpoint__url"]
    fields = [
        "id",
        "owner",
        "endpoint",
        "product",
        "kind",
        "threshold",
        "armed",
        "reference_price",
        "in_stock",
        "created_at",
    ]
    readonly_fields = fields
    ordering = ["-created_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
