"""Admin for webhooks: endpoints (active, failing, disabled), deliveries with their attempts and a
"retry now" button, alerts, the alerts of a product on its page, and webhook health on the status page.

The product page gains its alerts, and the status page its webhook health, by extending whichever
admin is registered and taking its place, so nothing below this app names it. Secrets are never shown.
"""

import json

from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import pluralize
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst
from django.views.decorators.http import require_POST

from aggregator.admin_display import (
    NOTHING,
    AdminStyle,
    change_link,
    changelist_link,
    status_word,
    truncated,
    when,
    when_short,
)
from aggregator.money import format_money
from aggregator.params import parse_uuid
from alerts.models import (
    Alert,
    AlertKind,
    AlertReference,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    EventType,
    WebhookEndpoint,
)
from alerts.selectors import webhook_health
from alerts.services import deliveries_retry_now, endpoint_delete
from catalogue.models import Product
from offers_sync import admin as offers_sync_admin
from offers_sync.models import SyncStatus

ALERTS_ON_PRODUCT_PAGE = 100
DELIVERY_TONES = {DeliveryStatus.DELIVERED: "ok", DeliveryStatus.PENDING: "warning", DeliveryStatus.FAILED: "error"}


def alert_threshold(alert: Alert) -> str:
    """A price for "price below", a percentage for "price drop", nothing for the stock alerts."""
    if alert.threshold is None:
        return NOTHING
    if alert.kind == AlertKind.PRICE_BELOW:
        return format_money(alert.threshold)
    if alert.kind == AlertKind.PRICE_DROP:
        return f"{alert.threshold} %"
    return str(alert.threshold)


def alert_described(kind: str, threshold: int | None) -> str:
    """ "price below €80.00", "price drop 5 %", "back in stock"."""
    shown = alert_threshold(Alert(kind=kind, threshold=threshold))
    return kind.replace("_", " ") + ("" if shown == NOTHING else f" {shown}")


def _event_data(delivery: Delivery) -> dict:
    """The event's `data`: an alert's, with its product, or a ping's."""
    return json.loads(delivery.event.body)["data"]


def _link_unless_gone(delivery: Delivery, app_label: str, model_name: str, pk, text: str) -> str:
    """A link to what the delivery's event names; only named for an `alert.deleted`, whose product
    and alert were deleted together (a link would lead to Django's "does not exist" page)."""
    if delivery.event.type == EventType.ALERT_DELETED:
        return text
    return change_link(app_label, model_name, pk, text)


def _product_of(data: dict) -> tuple[str | None, str]:
    product = data.get("product", {})
    return product.get("id"), product.get("name", "")


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
            Alert.objects.filter(product=product)
            .select_related("owner", "endpoint")
            .order_by("created_at")[:ALERTS_ON_PRODUCT_PAGE]
        )
        if not alerts:
            return "none"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    change_link("alerts", "alert", a.pk, a.kind.replace("_", " ")),
                    alert_threshold(a),
                    a.owner,
                    change_link("alerts", "webhookendpoint", a.endpoint_id, truncated(a.endpoint.url, 50)),
                    when(a.created_at),
                )
                for a in alerts
            ),
        )
        return format_html(
            "<table><tr><th>alert</th><th>threshold</th><th>owner</th><th>endpoint</th><th>created</th></tr>{}"
            "</table><p>{}</p>",
            rows,
            changelist_link("alerts", "alert", "see them in the alerts list", product_id__exact=str(product.pk)),
        )


admin.site.unregister(Product)
admin.site.register(Product, ProductAdmin)


class SyncStatusAdmin(offers_sync_admin.SyncStatusAdmin):
    """The status page with the webhooks' health: endpoints failing or disabled, deliveries waiting."""

    status_template = "admin/alerts/sync_status.html"

    def more_status_context(self, request, *, now) -> dict:
        return {**super().more_status_context(request, now=now), "webhooks": webhook_health(now=now)}


admin.site.unregister(SyncStatus)
admin.site.register(SyncStatus, SyncStatusAdmin)


class NarrowedTitleAdminMixin:
    """A list opened from an endpoint's or a product's link says so in its title: "Deliveries of
    the endpoint https://…", "Alerts on Kettle"."""

    def changelist_view(self, request, extra_context=None):
        title = self._narrowed_title(request)
        return super().changelist_view(request, {**({"title": title} if title else {}), **(extra_context or {})})

    def _narrowed_title(self, request) -> str | None:
        plural = capfirst(self.model._meta.verbose_name_plural)
        endpoint_id = parse_uuid(request.GET.get("endpoint_id__exact", ""))
        if endpoint_id is not None:
            url = WebhookEndpoint.objects.filter(pk=endpoint_id).values_list("url", flat=True).first()
            return f"{plural} of the endpoint {url}" if url else None
        product_id = parse_uuid(request.GET.get("product_id__exact", ""))
        if product_id is not None:
            name = Product.objects.filter(pk=product_id).values_list("name", flat=True).first()
            return f"{plural} on {name}" if name else None
        return None


class EndpointStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", "active"), ("failing", "failing"), ("disabled", "disabled")]

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(is_active=True, failing_since__isnull=True)
        if self.value() == "failing":
            return queryset.filter(is_active=True, failing_since__isnull=False)
        if self.value() == "disabled":
            return queryset.filter(is_active=False)
        return queryset


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    Media = AdminStyle
    list_display = ["url_shown", "owner", "state_word", "deliveries", "alerts", "created_at"]
    list_filter = [EndpointStateFilter]
    list_select_related = ["owner"]
    search_fields = ["url", "description", "owner__username"]
    fields = [
        "url",
        "description",
        "owner",
        "state",
        "is_active",
        "deliveries_summary",
        "alerts_summary",
        "created_at",
        "updated_at",
        "id",
    ]
    readonly_fields = [name for name in fields if name not in ("description", "is_active")]
    ordering = ["-created_at"]

    def has_add_permission(self, request):
        # Endpoints are created through the API, which checks the URL and shows the secret once.
        return False

    def delete_model(self, request, obj):
        # Through the service, which also deletes the events no other endpoint delivers.
        endpoint_delete(endpoint=obj)

    def delete_queryset(self, request, queryset):
        for endpoint in queryset:
            endpoint_delete(endpoint=endpoint)

    def get_deleted_objects(self, objs, request):
        """An endpoint's deliveries and their attempts go with it, though nobody deletes them by hand."""
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed -= {Delivery._meta.verbose_name, DeliveryAttempt._meta.verbose_name}
        return deleted, model_count, perms_needed, protected

    @admin.display(description="URL", ordering="url")
    def url_shown(self, endpoint: WebhookEndpoint) -> str:
        return truncated(endpoint.url, 60)

    @admin.display(description="state")
    def state(self, endpoint: WebhookEndpoint):
        if not endpoint.is_active:
            return status_word("disabled", "muted")
        if endpoint.failing_since is not None:
            return format_html("{} since {}", status_word("failing", "error"), when(endpoint.failing_since))
        return status_word("active", "ok")

    @admin.display(description="state")
    def state_word(self, endpoint: WebhookEndpoint):
        """The state in one word; since when an endpoint fails is in the tooltip."""
        if endpoint.is_active and endpoint.failing_since is not None:
            return format_html(
                '<span title="failing since {}">{}</span>',
                when(endpoint.failing_since),
                status_word("failing", "error"),
            )
        return self.state(endpoint)

    @admin.display(description="deliveries")
    def deliveries(self, endpoint: WebhookEndpoint):
        return changelist_link("alerts", "delivery", "deliveries", endpoint_id__exact=str(endpoint.pk))

    @admin.display(description="alerts")
    def alerts(self, endpoint: WebhookEndpoint):
        return changelist_link("alerts", "alert", "alerts", endpoint_id__exact=str(endpoint.pk))

    @admin.display(description="deliveries")
    def deliveries_summary(self, endpoint: WebhookEndpoint):
        counts = dict(
            Delivery.objects.filter(endpoint=endpoint)
            .order_by()
            .values("status")
            .annotate(n=Count("id"))
            .values_list("status", "n")
        )
        statuses = (DeliveryStatus.PENDING, DeliveryStatus.FAILED, DeliveryStatus.DELIVERED)
        return format_html(
            "{} · {}",
            ", ".join(f"{counts.get(status, 0)} {status.value}" for status in statuses),
            changelist_link("alerts", "delivery", "see its deliveries", endpoint_id__exact=str(endpoint.pk)),
        )

    @admin.display(description="alerts")
    def alerts_summary(self, endpoint: WebhookEndpoint):
        count = Alert.objects.filter(endpoint=endpoint).count()
        return format_html(
            "{} · {}",
            f"{count} alert{pluralize(count)}",
            changelist_link("alerts", "alert", "see its alerts", endpoint_id__exact=str(endpoint.pk)),
        )


@admin.register(Delivery)
class DeliveryAdmin(NarrowedTitleAdminMixin, admin.ModelAdmin):
    """Deliveries are the workers' records: read only, except "retry now" (list action and button)."""

    Media = AdminStyle
    list_display = ["created_at", "product", "endpoint_link", "status_and_next", "last_result"]
    list_filter = ["status"]
    list_select_related = ["endpoint", "event"]
    search_fields = ["=id", "=event__id", "endpoint__url"]
    fieldsets = [
        (
            None,
            {"fields": ["summary", "status_shown", "last_result", "next_or_done", "endpoint_link", "alert", "product"]},
        ),
        ("Attempts", {"fields": ["attempt_log"]}),
        ("Event", {"fields": ["event_type", "body", "created_at", "id", "event_id"]}),
    ]
    readonly_fields = flatten_fieldsets(fieldsets)
    ordering = ["-created_at"]
    actions = ["retry_now"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        retry = self.admin_site.admin_view(self.retry_view)
        return [path("<path:object_id>/retry/", retry, name="alerts_delivery_retry"), *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "POST":
            # Nothing here is edited: a save would write back what a worker changed meanwhile.
            raise PermissionDenied
        delivery = self.get_object(request, object_id)
        context = {"show_save": False, "show_save_and_continue": False, "show_save_and_add_another": False}
        if delivery is not None:
            context["title"] = self.describe(delivery)
            context["subtitle"] = f"Delivery {str(delivery.pk)[:8]} of event {str(delivery.event_id)[:8]}"
            context["can_retry"] = delivery.status != DeliveryStatus.DELIVERED and self.has_change_permission(
                request, delivery
            )
        return super().change_view(request, object_id, form_url, {**context, **(extra_context or {})})

    @method_decorator(require_POST)
    def retry_view(self, request, object_id):
        delivery = get_object_or_404(Delivery, pk=parse_uuid(object_id))
        if not self.has_change_permission(request, delivery):
            raise PermissionDenied
        if deliveries_retry_now(deliveries=Delivery.objects.filter(pk=delivery.pk)):
            self.message_user(request, "The delivery is due now; a webhook worker sends it shortly.", messages.SUCCESS)
        else:
            self.message_user(request, "Not retried: it was delivered, or a worker is sending it.", messages.WARNING)
        return HttpResponseRedirect(reverse("admin:alerts_delivery_change", args=[delivery.pk]))

    @admin.action(description="Retry now", permissions=["change"])
    def retry_now(self, request, queryset):
        count = deliveries_retry_now(deliveries=queryset)
        self.message_user(request, f"{count} deliveries are due now.", messages.SUCCESS)

    @staticmethod
    def describe(delivery: Delivery) -> str:
        """What the delivery is: "alert.triggered: Kettle → https://…", "webhook.ping → https://…"."""
        _, product_name = _product_of(_event_data(delivery))
        what = f"{delivery.event.type}: {product_name}" if product_name else delivery.event.type
        return f"{what} → {delivery.endpoint.url}"

    @admin.display(description="event", ordering="event__type")
    def event_type(self, delivery: Delivery) -> str:
        return delivery.event.type

    @admin.display(description="product")
    def product(self, delivery: Delivery):
        if delivery.event.type == EventType.WEBHOOK_PING:
            return "test ping"
        return _link_unless_gone(delivery, "catalogue", "product", *_product_of(_event_data(delivery)))

    @admin.display(description="alert")
    def alert(self, delivery: Delivery):
        alert = _event_data(delivery).get("alert")
        if alert is None:
            return NOTHING
        described = alert_described(alert["kind"], alert["threshold"])
        return _link_unless_gone(delivery, "alerts", "alert", alert["id"], described)

    @admin.display(description="endpoint")
    def endpoint_link(self, delivery: Delivery):
        return change_link("alerts", "webhookendpoint", delivery.endpoint_id, truncated(delivery.endpoint.url, 28))

    @admin.display(description="status", ordering="status")
    def status_shown(self, delivery: Delivery):
        return status_word(delivery.get_status_display(), DELIVERY_TONES.get(delivery.status, "muted"))

    @admin.display(description="status", ordering="status")
    def status_and_next(self, delivery: Delivery):
        """The status, and for one still pending when it is tried next."""
        word = self.status_shown(delivery)
        if delivery.status == DeliveryStatus.PENDING and delivery.next_attempt_at is not None:
            return format_html("{} next {}", word, when_short(delivery.next_attempt_at))
        return word

    @admin.display(description="attempts")
    def last_result(self, delivery: Delivery) -> str:
        if not delivery.attempts:
            return "none yet"
        # The answer in two words; what went wrong in the tooltip and on the delivery's page.
        answer = f"HTTP {delivery.last_status_code}" if delivery.last_status_code else "no answer"
        return format_html('<span title="{}">{} × {}</span>', delivery.last_error, delivery.attempts, answer)

    @admin.display(description="next attempt / delivered")
    def next_or_done(self, delivery: Delivery) -> str:
        if delivery.status == DeliveryStatus.DELIVERED:
            return f"delivered {when(delivery.delivered_at)}"
        if delivery.status == DeliveryStatus.FAILED:
            return "gave up"
        return f"next {when(delivery.next_attempt_at)}"

    @admin.display(description="what happened")
    def summary(self, delivery: Delivery) -> str:
        if delivery.event.type == EventType.WEBHOOK_PING:
            return "A test ping of the endpoint (sent when its owner asked for one)."
        data = _event_data(delivery)
        _, name = _product_of(data)
        alert = f"The alert “{alert_described(data['alert']['kind'], data['alert']['threshold'])}”"
        if delivery.event.type == EventType.ALERT_DELETED:
            return f"{alert} was deleted with its product, {name or 'a product'}."
        best, before = data.get("best_price"), data.get("previous_best_price")
        in_stock = data.get("offers_in_stock")
        return (
            f"{alert} fired. {name or 'A product'}: best in-stock price "
            f"{format_money(best) if best is not None else 'none'}"
            f" (before: {format_money(before) if before is not None else 'none'}),"
            f" {in_stock} offer{'s' if in_stock != 1 else ''} in stock."
        )

    @admin.display(description="each attempt")
    def attempt_log(self, delivery: Delivery):
        attempts = list(delivery.attempt_log.order_by("attempted_at", "id"))
        if not attempts:
            return "none yet"
        rows = format_html_join(
            "",
            "<tr><td>Attempt {}</td><td>{}</td><td>{}</td><td>{} ms</td><td>{}</td></tr>",
            (
                (
                    n,
                    when(a.attempted_at),
                    f"HTTP {a.status_code}" if a.status_code else "no answer",
                    a.duration_ms,
                    "" if a.error == f"HTTP {a.status_code}" else a.error,
                )
                for n, a in enumerate(attempts, start=1)
            ),
        )
        return format_html(
            "<table><tr><th></th><th>at</th><th>answer</th><th>took</th><th>error</th></tr>{}</table>", rows
        )

    @admin.display(description="body")
    def body(self, delivery: Delivery):
        shown = json.dumps(json.loads(delivery.event.body), indent=2, ensure_ascii=False)
        return format_html(
            '<details><summary>The JSON every attempt sends ({} bytes)</summary><pre style="white-space:pre-wrap">{}'
            "</pre></details>",
            len(delivery.event.body.encode()),
            shown,
        )


@admin.register(Alert)
class AlertAdmin(NarrowedTitleAdminMixin, admin.ModelAdmin):
    Media = AdminStyle
    list_display = ["kind_shown", "threshold_shown", "product_link", "endpoint_link", "owner", "created_at"]
    list_filter = ["kind"]
    list_select_related = ["product", "endpoint", "owner"]
    search_fields = ["=id", "product__name", "endpoint__url"]
    fields = [
        "kind_shown",
        "threshold_shown",
        "product_link",
        "endpoint_link",
        "owner",
        "evaluation",
        "created_at",
        "id",
    ]
    readonly_fields = fields
    ordering = ["-created_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        alert = self.get_object(request, object_id)
        context = {}
        if alert is not None:
            on = "every product" if alert.product_id is None else alert.product.name
            context["subtitle"] = f"{alert_described(alert.kind, alert.threshold)} on {on} → {alert.endpoint.url}"
        return super().change_view(request, object_id, form_url, {**context, **(extra_context or {})})

    @admin.display(description="alert", ordering="kind")
    def kind_shown(self, alert: Alert) -> str:
        return alert.kind.replace("_", " ")

    @admin.display(description="threshold")
    def threshold_shown(self, alert: Alert) -> str:
        return alert_threshold(alert)

    @admin.display(description="product")
    def product_link(self, alert: Alert):
        if alert.product_id is None:
            return "every product"
        return change_link("catalogue", "product", alert.product_id, alert.product.name)

    @admin.display(description="endpoint")
    def endpoint_link(self, alert: Alert):
        return change_link("alerts", "webhookendpoint", alert.endpoint_id, truncated(alert.endpoint.url, 50))

    @admin.display(description="state")
    def evaluation(self, alert: Alert) -> str:
        if alert.kind == AlertKind.PRICE_BELOW:
            return "waiting for the price to fall below" if alert.armed else "fired; waits for the price to rise again"
        if alert.kind == AlertKind.PRICE_DROP:
            if alert.product_id is None:
                return "a reference price per product"
            return f"reference price {format_money(alert.reference_price) if alert.reference_price else 'none yet'}"
        if alert.in_stock is None:
            return "stock not known yet"
        return "in stock" if alert.in_stock else "out of stock"
