"""Per-user limits on endpoints and alerts, and the bound on one batch's every-product events."""

import json
import time
import uuid

import pytest

from alerts.models import Alert, AlertKind, Delivery, WebhookEndpoint, WebhookEvent
from alerts.services import alerts_evaluate_batch
from catalogue.models import Product
from offers_sync.client import OfferData
from offers_sync.signals import OfferChange, OffersChanged

pytestmark = pytest.mark.django_db


def add_endpoint(client, n: int = 0):
    return client.post("/webhooks", {"url": f"https://hooks.example.com/{n}"}, format="json")


def add_alert(client, webhook_id, product_id=None, kind="out_of_stock"):
    body = {"webhook_id": webhook_id, "product_id": product_id, "kind": kind}
    return client.post("/alerts", body, format="json")


def assert_limit_refusal(response, setting: str):
    assert response.status_code == 409, response.content
    assert setting in response.json()["detail"]


def test_webhook_endpoints_past_the_limit_are_refused(auth_client, settings):
    settings.WEBHOOK_ENDPOINTS_PER_USER = 3
    for n in range(3):
        assert add_endpoint(auth_client, n).status_code == 201
    assert_limit_refusal(add_endpoint(auth_client, 3), "WEBHOOK_ENDPOINTS_PER_USER")
    assert WebhookEndpoint.objects.count() == 3
    # Deleting one makes room again.
    first = auth_client.get("/webhooks").json()[0]
    assert auth_client.delete(f"/webhooks/{first['id']}").status_code == 204
    assert add_endpoint(auth_client, 4).status_code == 201


def test_alerts_past_the_limit_are_refused(auth_client, settings):
    settings.ALERTS_PER_USER = 2
    hook = add_endpoint(auth_client).json()
    products = [Product.objects.create(name=f"P{i}") for i in range(3)]
    assert add_alert(auth_client, hook["id"], str(products[0].id)).status_code == 201
    assert add_alert(auth_client, hook["id"], str(products[1].id)).status_code == 201
    assert_limit_refusal(add_alert(auth_client, hook["id"], str(products[2].id)), "ALERTS_PER_USER")
    assert Alert.objects.count() == 2


def test_every_product_alerts_have_their_own_smaller_limit(auth_client, settings, plain_client):
    settings.EVERY_PRODUCT_ALERTS_PER_USER = 2
    hook = add_endpoint(auth_client).json()
    for kind in ("out_of_stock", "back_in_stock"):
        assert add_alert(auth_client, hook["id"], None, kind).status_code == 201
    assert_limit_refusal(add_alert(auth_client, hook["id"], None, "out_of_stock"), "EVERY_PRODUCT_ALERTS_PER_USER")
    # An alert on one product is still allowed, and another user has a limit of their own.
    product = Product.objects.create(name="Kettle")
    assert add_alert(auth_client, hook["id"], str(product.id)).status_code == 201
    other_hook = add_endpoint(plain_client).json()
    assert add_alert(plain_client, other_hook["id"], None).status_code == 201


def going_out_of_stock(products) -> list[OffersChanged]:
    """Each product's only offer goes from 3 in stock to none, as one batch of the sync reports it."""
    changes = []
    for product in products:
        before = OfferData(id=uuid.uuid4(), price=100, items_in_stock=3)
        after = OfferData(id=before.id, price=100, items_in_stock=0)
        changes.append(
            OffersChanged(
                product_id=product.id,
                observed_at=product.created_at,
                appeared=(),
                changed=(OfferChange(before=before, after=after),),
                vanished=(),
                offers=(after,),
            )
        )
    return changes


def test_one_batch_fans_out_to_a_bounded_number_of_events_and_names_every_product(auth_client, settings):
    settings.EVERY_PRODUCT_ALERT_EVENTS_PER_BATCH = 5
    hook = add_endpoint(auth_client).json()
    add_alert(auth_client, hook["id"], None, "out_of_stock")
    products = [Product.objects.create(name=f"P{i}") for i in range(20)]

    fired = alerts_evaluate_batch(changes=going_out_of_stock(products))

    assert fired == 20
    bodies = [WebhookEvent.objects.get(pk=d.event_id).body for d in Delivery.objects.order_by("created_at", "id")]
    assert Delivery.objects.count() == 5
    data = [json.loads(body)["data"] for body in bodies]
    reported = {d["product"]["id"] for d in data} | {pid for d in data for pid in d.get("also_fired_for", [])}
    assert reported == {str(p.id) for p in products}  # nothing lost: each product is named once
    assert sum(len(d.get("also_fired_for", [])) for d in data) == 15


@pytest.mark.parametrize("cap", [20, 10])
def test_the_fan_out_of_a_batch_is_measured(settings, django_user_model, capsys, cap):
    """30 users with 10 every-product alerts each (the default limit), 20 products go out of stock at once:
    side by side, a cap of 20 (no product past it, as without the bound) and the default 10."""
    products = [Product.objects.create(name=f"P{i}") for i in range(20)]
    for u in range(30):
        owner = django_user_model.objects.create_user(f"user-{u}")
        endpoint = WebhookEndpoint.objects.create(owner=owner, url=f"https://hooks.example.com/{u}", secret="whsec_x")
        Alert.objects.bulk_create(
            Alert(owner=owner, endpoint=endpoint, product=None, kind=AlertKind.OUT_OF_STOCK) for _ in range(10)
        )
    settings.EVERY_PRODUCT_ALERT_EVENTS_PER_BATCH = cap
    started = time.perf_counter()
    fired = alerts_evaluate_batch(changes=going_out_of_stock(products))
    seconds = time.perf_counter() - started
    assert fired == 300 * 20
    assert Delivery.objects.count() == 300 * min(cap, 20)
    with capsys.disabled():
        deliveries = Delivery.objects.count()
        print(f"\n  cap {cap}: 300 alerts x 20 products: {fired} firings, {deliveries} deliveries, {seconds:.2f} s")
