"""Staff users in the admin get what their permissions allow: nothing, viewing, or changing.

Import/export of products (django-import-export), the "register now", "sync offers now" and
"retry now" actions, and the read-only pages (offers, sync runs and status, price events).
"""

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from aggregator.tests.factories import UserFactory
from alerts.models import Delivery, DeliveryStatus, EventType
from alerts.services import _events_create
from catalogue.models import Product
from catalogue.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def staff(*permissions: str) -> Client:
    """A logged-in staff user holding these permissions ("app.codename"), and no others."""
    user = UserFactory(is_staff=True)
    for label in permissions:
        app_label, codename = label.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    client = Client()
    client.force_login(user)
    return client


def import_csv(client: Client):
    upload = SimpleUploadedFile("products.csv", b"name,description\nImported,from a file\n", content_type="text/csv")
    return client.post("/admin/catalogue/product/import/", {"import_file": upload, "format": 0, "resource": 0})


def test_a_staff_user_without_permissions_can_neither_import_nor_export():
    client = staff()
    assert client.get("/admin/catalogue/product/import/").status_code == 403
    assert import_csv(client).status_code == 403
    assert client.get("/admin/catalogue/product/export/").status_code == 403
    assert not Product.objects.exists()


def test_view_allows_export_but_not_import():
    ProductFactory(name="Kettle")
    client = staff("catalogue.view_product")
    assert client.get("/admin/catalogue/product/export/").status_code == 200
    assert client.get("/admin/catalogue/product/import/").status_code == 403
    assert import_csv(client).status_code == 403
    assert list(Product.objects.values_list("name", flat=True)) == ["Kettle"]


def test_add_allows_import():
    client = staff("catalogue.view_product", "catalogue.add_product", "catalogue.change_product")
    preview = import_csv(client)
    assert preview.status_code == 200
    assert b"Imported" in preview.content


def actions_offered(client: Client, url: str) -> str:
    return client.get(url).content.decode()


def test_register_and_sync_now_need_the_change_permission():
    ProductFactory(name="Kettle")
    viewer = actions_offered(staff("catalogue.view_product"), "/admin/catalogue/product/")
    assert 'value="register_now"' not in viewer and 'value="sync_offers_now"' not in viewer
    changer = actions_offered(staff("catalogue.view_product", "catalogue.change_product"), "/admin/catalogue/product/")
    assert 'value="register_now"' in changer and 'value="sync_offers_now"' in changer


def test_a_view_only_user_cannot_register_products_now(settings, monkeypatch):
    product = ProductFactory(name="Kettle")
    called = []
    monkeypatch.setattr("offers_sync.admin.product_register_now", lambda *, product: called.append(product) or True)
    monkeypatch.setattr("offers_sync.admin.offers_service_for_web", lambda: object())
    action = {"action": "register_now", "_selected_action": [str(product.id)]}
    staff("catalogue.view_product").post("/admin/catalogue/product/", action)
    assert called == []
    staff("catalogue.view_product", "catalogue.change_product").post("/admin/catalogue/product/", action)
    assert [p.pk for p in called] == [product.pk]


@pytest.fixture
def failed_delivery(django_user_model):
    from alerts.models import WebhookEndpoint

    owner = django_user_model.objects.create_user("owner")
    endpoint = WebhookEndpoint.objects.create(owner=owner, url="https://hooks.example.com/", secret="whsec_x")
    (delivery,) = _events_create([(EventType.WEBHOOK_PING, {}, endpoint.id)])
    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED, next_attempt_at=None)
    return delivery


def test_retry_now_needs_the_change_permission(failed_delivery):
    action = {"action": "retry_now", "_selected_action": [str(failed_delivery.id)]}
    viewer = staff("alerts.view_delivery")
    assert 'value="retry_now"' not in viewer.get("/admin/alerts/delivery/").content.decode()
    viewer.post("/admin/alerts/delivery/", action)
    assert Delivery.objects.get(pk=failed_delivery.pk).status == DeliveryStatus.FAILED

    changer = staff("alerts.view_delivery", "alerts.change_delivery")
    page = changer.get(f"/admin/alerts/delivery/{failed_delivery.id}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content  # still read-only
    changer.post("/admin/alerts/delivery/", action)
    retried = Delivery.objects.get(pk=failed_delivery.pk)
    assert retried.status == DeliveryStatus.PENDING and retried.next_attempt_at <= timezone.now()


@pytest.mark.parametrize(
    ("url", "permission"),
    [
        ("/admin/offers_sync/offer/", "offers_sync.view_offer"),
        ("/admin/offers_sync/syncrun/", "offers_sync.view_syncrun"),
        ("/admin/offers_sync/syncstatus/", "offers_sync.view_syncstatus"),
        ("/admin/price_history/priceevent/", "price_history.view_priceevent"),
    ],
)
def test_the_read_only_pages_follow_djangos_view_permission(url, permission):
    assert staff().get(url).status_code == 403
    assert staff(permission).get(url).status_code == 200
