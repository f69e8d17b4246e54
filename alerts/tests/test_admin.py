"""The admin: endpoints without their secret, deliveries with attempts and "retry now", a product's alerts."""

import pytest

from alerts.models import Delivery, DeliveryStatus
from alerts.tests.conftest import deliver_due

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def alert(auth_client, endpoint, product):
    response = auth_client.post(
        "/alerts",
        {"webhook_id": endpoint["id"], "product_id": str(product.id), "kind": "price_below", "threshold": 4321},
        format="json",
    )
    return response.json()


def test_endpoint_pages_never_show_the_secret(admin_client, endpoint):
    listing = admin_client.get("/admin/alerts/webhookendpoint/")
    page = admin_client.get(f"/admin/alerts/webhookendpoint/{endpoint['id']}/change/")
    assert listing.status_code == page.status_code == 200
    for html in (listing.content.decode(), page.content.decode()):
        assert endpoint["url"] in html
        assert endpoint["secret"] not in html and endpoint["secret"].removeprefix("whsec_") not in html


def test_product_page_lists_its_alerts(admin_client, product, alert):
    html = admin_client.get(f"/admin/catalogue/product/{product.id}/change/").content.decode()
    assert "price below" in html and "€43.21" in html


def test_a_product_with_alerts_can_be_deleted_from_the_admin(admin_client, product, alert):
    response = admin_client.post(f"/admin/catalogue/product/{product.id}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert admin_client.get(f"/admin/catalogue/product/{product.id}/change/").status_code == 302


def test_retry_now_from_the_delivery_list(admin_client, auth_client, endpoint, receiver, settings):
    settings.WEBHOOK_RETRY_DELAYS = ()
    receiver.answers = [500]
    auth_client.post(f"/webhooks/{endpoint['id']}/ping")
    deliver_due()
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    page = admin_client.get(f"/admin/alerts/delivery/{delivery.id}/change/").content.decode()
    assert "HTTP 500" in page and "500" in page  # the attempt with its status code
    response = admin_client.post(
        "/admin/alerts/delivery/", {"action": "retry_now", "_selected_action": [str(delivery.id)]}
    )
    assert response.status_code == 302
    deliver_due()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 2
