"""`{% price_history_panel product %}`: the chart and latest events shown on a product's admin page."""

from django import template
from django.utils import timezone

from aggregator.admin_display import changelist_url
from price_history.charts import price_trend_svg
from price_history.selectors import price_event_latest, price_trend_for_chart

register = template.Library()

LATEST_EVENTS = 20


@register.inclusion_tag("price_history/panel.html")
def price_history_panel(product):
    trend = price_trend_for_chart(product_id=product.pk, now=timezone.now())
    return {
        "trend": trend,
        "chart": price_trend_svg(trend) if trend is not None else None,
        "events": price_event_latest(product_id=product.pk, limit=LATEST_EVENTS),
        "all_events_url": changelist_url("price_history", "priceevent", q=str(product.pk)),
    }
