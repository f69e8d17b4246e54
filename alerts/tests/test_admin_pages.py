"""The webhook admin as an admin reads it: links both ways, status words, money, a delivery's page."""

import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from aggregator.tests.admin_lists import assert_a_thousand_rows_take_the_queries_of_a_few
from aggregator.tests.factories import UserFactory
from alerts.models import Alert, Delivery, DeliveryAttempt, DeliveryStatus, WebhookEndpoint, WebhookEvent
from catalogue.models import Product
from catalogue.services import product_delete

pytestmark = pytest.mark.django_db

AT = datetime(2026, 12, 7, 16, 27, 3, tzinfo=UTC)


@pytest.fixture
def owner(db):
    return UserFactory(username="shop")


def endpoint_of(owner, url: str, **fields) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(owner=owner, url=url, secret="whsec_c2VjcmV0", **fields)


def triggered(alert: Alert, product: Product, endpoint: WebhookEndpoint, **fields) -> Delivery:
    """An alert.triggered event, as the alerts' service writes it, and its delivery to `endpoint`."""
    event_id = uuid.uuid4()
    data = {
        "alert": {"id": str(alert.id), "kind": alert.kind, "threshold": alert.threshold, "product_id": None},
        "product": {"id": str(product.id), "name": product.name},
        "best_price": 7999,
        "previous_best_price": 8999,
        "offers_in_stock": 2,
        "observed_at": AT.isoformat(),
    }
    body = {"id": str(event_id), "type": "alert.triggered", "created_at": AT.isoformat(), "data": data}
    event = WebhookEvent.objects.create(
        id=event_id, type="alert.triggered", body=json.dumps(body, separators=(",", ":")), created_at=AT
    )
    return Delivery.objects.create(event=event, endpoint=endpoint, created_at=AT, **fields)


@pytest.fixture
def scene(owner):
    """A product with a price alert on a failing endpoint, whose delivery failed twice, 5 s apart."""
    product = Product.objects.create(name="Blue kettle")
    failing = endpoint_of(owner, "https://crm.example/hooks", failing_since=AT)
    healthy = endpoint_of(owner, "https://shop.example/hooks")
    alert = Alert.objects.create(owner=owner, endpoint=failing, product=product, kind="price_below", threshold=8000)
    drop = Alert.objects.create(owner=owner, endpoint=healthy, product=None, kind="price_drop", threshold=5)
    delivery = triggered(
        alert, product, failing, status=DeliveryStatus.PENDING, attempts=2, last_status_code=500,
        last_error="HTTP 500", next_attempt_at=AT + timedelta(minutes=2),
    )  # fmt: skip
    for n in range(2):
        DeliveryAttempt.objects.create(
            delivery=delivery, attempted_at=AT + timedelta(seconds=5 * n), status_code=500, error="HTTP 500",
            duration_ms=12,
        )  # fmt: skip
    return {"product": product, "failing": failing, "healthy": healthy, "alert": alert, "drop": drop,
            "delivery": delivery}  # fmt: skip


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def href(path: str) -> str:
    return f'href="{path}"'


def test_every_related_object_is_a_link_both_ways(admin_client, scene):
    product, failing, alert, delivery = scene["product"], scene["failing"], scene["alert"], scene["delivery"]
    product_page = f"/admin/catalogue/product/{product.pk}/change/"
    alert_page = f"/admin/alerts/alert/{alert.pk}/change/"
    endpoint_page = f"/admin/alerts/webhookendpoint/{failing.pk}/change/"
    its_deliveries = f"/admin/alerts/delivery/?endpoint_id__exact={failing.pk}"
    its_alerts = f"/admin/alerts/alert/?endpoint_id__exact={failing.pk}"

    alerts = page(admin_client, "/admin/alerts/alert/")
    assert href(product_page) in alerts and href(endpoint_page) in alerts  # alert → product, endpoint
    endpoints = page(admin_client, "/admin/alerts/webhookendpoint/")
    assert href(its_deliveries) in endpoints and href(its_alerts) in endpoints  # endpoint → deliveries, alerts
    endpoint = page(admin_client, endpoint_page)
    assert href(its_deliveries) in endpoint and href(its_alerts) in endpoint
    deliveries = page(admin_client, "/admin/alerts/delivery/")
    assert href(product_page) in deliveries and href(endpoint_page) in deliveries  # delivery → product, endpoint
    detail = page(admin_client, f"/admin/alerts/delivery/{delivery.pk}/change/")
    assert href(alert_page) in detail and href(product_page) in detail and href(endpoint_page) in detail
    product_html = page(admin_client, product_page)
    assert href(alert_page) in product_html and href(f"/admin/alerts/alert/?product_id__exact={product.pk}") in (
        product_html
    )  # product → its alerts

    # The filtered lists show only the endpoint's (or the product's) rows, and say so.
    narrowed = page(admin_client, its_deliveries)
    assert "Deliveries of the endpoint https://crm.example/hooks" in narrowed and "1 delivery" in narrowed
    assert "0 deliveries" in page(admin_client, f"/admin/alerts/delivery/?endpoint_id__exact={scene['healthy'].pk}")
    narrowed = page(admin_client, its_alerts)
    assert "Alerts of the endpoint https://crm.example/hooks" in narrowed and "1 alert" in narrowed
    narrowed = page(admin_client, f"/admin/alerts/alert/?product_id__exact={product.pk}")
    assert "Alerts on Blue kettle" in narrowed and "1 alert" in narrowed


@pytest.mark.parametrize(
    ("currency", "below"), [("JPY", "¥8,000"), ("EUR", "€80.00"), ("KWD", "KWD8.000")], ids=["0", "2", "3"]
)
def test_thresholds_are_money_or_a_percentage(admin_client, settings, scene, currency, below):
    settings.CURRENCY = currency
    html = page(admin_client, "/admin/alerts/alert/")
    cells = re.findall(r'<td class="field-threshold_shown">([^<]*)</td>', html)
    assert sorted(cells) == sorted([below, "5 %"])
    assert ">8000<" not in html
    assert below in page(admin_client, f"/admin/catalogue/product/{scene['product'].pk}/change/")


def test_a_failing_endpoint_says_so_in_red(admin_client, scene):
    html = page(admin_client, "/admin/alerts/webhookendpoint/")
    assert ">failing</strong>" in html and "failing since 2026-12-07 16:27:03" in html and "#c62828" in html
    assert ">active</strong>" in html  # the healthy one
    assert "icon-yes.svg" not in html  # no green tick for anyone
    assert "shop.example" not in page(admin_client, "/admin/alerts/webhookendpoint/?state=failing")


def test_a_deliverys_page_says_what_it_is(admin_client, scene):
    delivery = scene["delivery"]
    html = page(admin_client, f"/admin/alerts/delivery/{delivery.pk}/change/")
    title = re.search(r"<h1>(.*?)</h1>", html, re.S).group(1)
    assert title == "alert.triggered: Blue kettle → https://crm.example/hooks"
    assert str(delivery.event_id) not in re.search(r'<div class="breadcrumbs">(.*?)</div>', html, re.S).group(1)
    assert "The alert “price below €80.00” fired. Blue kettle: best in-stock price €79.99 (before: €89.99)" in html
    # the body pretty-printed, folded
    assert re.search(r"<details><summary>The JSON every attempt sends \(\d+ bytes\)</summary><pre", html)
    assert "\n  &quot;type&quot;: &quot;alert.triggered&quot;," in html
    # attempts named and timed to the second, 5 s apart
    assert "<td>Attempt 1</td><td>2026-12-07 16:27:03</td>" in html
    assert "<td>Attempt 2</td><td>2026-12-07 16:27:08</td>" in html
    assert "DeliveryAttempt object" not in html
    # a Retry button; no Save, no Delete
    assert 'action="/admin/alerts/delivery/' in html and ">Retry now</button>" in html
    assert 'name="_save"' not in html and "deletelink" not in html


def test_the_retry_button_makes_the_delivery_due_now(admin_client, scene):
    delivery = scene["delivery"]
    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED, next_attempt_at=None)
    response = admin_client.post(f"/admin/alerts/delivery/{delivery.pk}/retry/")
    assert response.status_code == 302 and response["Location"].endswith(
        f"/admin/alerts/delivery/{delivery.pk}/change/"
    )
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.next_attempt_at <= timezone.now()
    assert admin_client.get(f"/admin/alerts/delivery/{delivery.pk}/retry/").status_code == 405


def test_nothing_on_a_delivery_is_edited_or_deleted_from_the_admin(admin_client, scene):
    delivery = scene["delivery"]
    assert admin_client.post(f"/admin/alerts/delivery/{delivery.pk}/change/", {}).status_code == 403
    assert admin_client.post(f"/admin/alerts/delivery/{delivery.pk}/delete/", {"post": "yes"}).status_code == 403
    delivery.refresh_from_db()
    assert delivery.attempts == 2


def test_a_delivered_one_has_no_retry_button(admin_client, scene):
    delivery = scene["delivery"]
    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.DELIVERED, delivered_at=AT)
    html = page(admin_client, f"/admin/alerts/delivery/{delivery.pk}/change/")
    assert "Retry now" not in html and "delivered 2026-12-07 16:27:03" in html


def test_a_staff_member_without_the_change_permission_cannot_retry(client, scene):
    from django.contrib.auth.models import Permission

    viewer = UserFactory(username="viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_delivery"))
    client.force_login(viewer)
    delivery = scene["delivery"]
    assert "Retry now" not in page(client, f"/admin/alerts/delivery/{delivery.pk}/change/")
    assert client.post(f"/admin/alerts/delivery/{delivery.pk}/retry/").status_code == 403


def test_the_status_page_shows_webhook_health(admin_client, scene):
    html = page(admin_client, "/admin/offers_sync/syncstatus/")
    health = re.search(r'<div class="module" id="webhook-health">(.*?)</div>', html, re.S).group(1)
    assert "1 pending" in health and "https://crm.example/hooks" in health and "shop.example" not in health
    assert href(f"/admin/alerts/webhookendpoint/{scene['failing'].pk}/change/") in health


@pytest.mark.parametrize(("model", "column"), [("delivery", "product"), ("alert", "endpoint_link")])
def test_lists_of_a_thousand_rows_take_the_queries_of_a_few(
    admin_client, django_assert_max_num_queries, scene, model, column
):
    from django.apps import apps

    def make(count: int) -> None:
        products = Product.objects.bulk_create(Product(name=f"Mug {n}") for n in range(count))
        for product in products:
            alert = Alert.objects.create(
                owner=scene["failing"].owner, endpoint=scene["failing"], product=product, kind="price_drop", threshold=3
            )
            triggered(alert, product, scene["healthy"], status=DeliveryStatus.DELIVERED, attempts=1,
                      last_status_code=204, delivered_at=AT)  # fmt: skip

    assert_a_thousand_rows_take_the_queries_of_a_few(
        admin_client, django_assert_max_num_queries, apps.get_model("alerts", model), column, make
    )


def test_an_endpoint_with_deliveries_can_be_deleted_and_takes_them_with_it(admin_client, scene):
    failing = scene["failing"]
    confirm = admin_client.get(f"/admin/alerts/webhookendpoint/{failing.pk}/delete/")
    assert confirm.status_code == 200 and "Yes, I’m sure" in confirm.content.decode()
    response = admin_client.post(f"/admin/alerts/webhookendpoint/{failing.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not WebhookEndpoint.objects.filter(pk=failing.pk).exists()
    assert not Delivery.objects.exists() and not WebhookEvent.objects.exists()  # its events went with it


def test_a_deleted_alerts_delivery_says_it_went_with_its_product(admin_client, owner):
    product = Product.objects.create(name="Red kettle")
    endpoint = endpoint_of(owner, "https://shop.example/hooks")
    alert = Alert.objects.create(owner=owner, endpoint=endpoint, product=product, kind="price_below", threshold=8000)
    assert product_delete(product=product)
    delivery = Delivery.objects.get(event__type="alert.deleted")
    html = page(admin_client, f"/admin/alerts/delivery/{delivery.pk}/change/")
    assert "The alert “price below €80.00” was deleted with its product, Red kettle." in html
    assert "fired" not in html
    # Both are gone: named, not linked to pages that would say they do not exist.
    assert f"/admin/catalogue/product/{product.pk}/" not in html
    assert f"/admin/alerts/alert/{alert.pk}/" not in html
    assert ">Red kettle<" in html and ">price below €80.00<" in html
