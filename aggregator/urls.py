from django.contrib import admin
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from aggregator.health import HealthApi
from aggregator.metrics import metrics_view
from alerts.apis import (
    AlertDetailApi,
    AlertListCreateApi,
    WebhookDeliveryListApi,
    WebhookDetailApi,
    WebhookListCreateApi,
    WebhookPingApi,
)
from api.offers import ProductOffersApi
from api.products import ProductBulkCreateApi, ProductDetailApi, ProductListCreateApi
from price_history.apis import PriceEventChangesApi, PriceEventListApi, PriceTrendApi


class PublicSchemaApi(SpectacularAPIView):
    """The OpenAPI schema, cacheable like the other public reads (aggregator.http_cache)."""

    cache_public = True


urlpatterns = [
    path("products", ProductListCreateApi.as_view(), name="product-list"),
    # Before the detail path, which would otherwise take "bulk" for a product id.
    path("products/bulk", ProductBulkCreateApi.as_view(), name="product-bulk-create"),
    path("products/<str:product_id>", ProductDetailApi.as_view(), name="product-detail"),
    path("products/<str:product_id>/offers", ProductOffersApi.as_view(), name="product-offers"),
    # <str:> stops at "/", so these do not collide with the paths above.
    path("products/<str:product_id>/offers/history", PriceEventListApi.as_view(), name="product-offer-history"),
    path("products/<str:product_id>/price-trend", PriceTrendApi.as_view(), name="product-price-trend"),
    path("offers/changes", PriceEventChangesApi.as_view(), name="offer-changes"),
    path("webhooks", WebhookListCreateApi.as_view(), name="webhook-list"),
    path("webhooks/<str:webhook_id>", WebhookDetailApi.as_view(), name="webhook-detail"),
    path("webhooks/<str:webhook_id>/ping", WebhookPingApi.as_view(), name="webhook-ping"),
    path("webhooks/<str:webhook_id>/deliveries", WebhookDeliveryListApi.as_view(), name="webhook-deliveries"),
    path("alerts", AlertListCreateApi.as_view(), name="alert-list"),
    path("alerts/<str:alert_id>", AlertDetailApi.as_view(), name="alert-detail"),
    path("health", HealthApi.as_view(), name="health"),
    path("metrics", metrics_view, name="metrics"),
    path("schema", PublicSchemaApi.as_view(), name="schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("admin/", admin.site.urls),
]

handler400 = "aggregator.exceptions.bad_request"
handler403 = "aggregator.exceptions.permission_denied"
handler404 = "aggregator.exceptions.not_found"
handler500 = "aggregator.exceptions.server_error"
