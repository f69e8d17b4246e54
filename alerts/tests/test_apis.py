"""The webhook and alert endpoints: ownership, validation, the secret shown once, paging."""

import socket
import uuid

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from alerts.models import Alert, Delivery, WebhookEndpoint
from catalogue.models import Product

pytestmark = pytest.mark.django_db


@pytest.fixture
def other_client(db) -> APIClient:
    user = get_user_model().objects.create_user(username="someone-else", password="x")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def test_creating_an_endpoint_shows_its_secret_once(auth_client, receiver):
    response = auth_client.post("/webhooks", {"url": receiver.url, "description": "shop"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert set(body) >= {"id", "url", "description", "secret", "is_active", "created_at"}
    assert body["secret"].startswith("whsec_") and len(body["secret"]) >= 6 + 32
    assert body["is_active"] is True and body["description"] == "shop"
    listed = auth_client.get("/webhooks").json()
    shown = auth_client.get(f"/webhooks/{body['id']}").json()
    patched = auth_client.patch(f"/webhooks/{body['id']}", {"description": "x"}, format="json").json()
    for answer in (listed[0], shown, patched):
        assert "secret" not in answer
        assert body["secret"] not in str(answer)


def test_everything_needs_a_token(api_client, endpoint):
    for method, path in [
        ("get", "/webhooks"),
        ("post", "/webhooks"),
        ("get", f"/webhooks/{endpoint['id']}"),
        ("post", f"/webhooks/{endpoint['id']}/ping"),
        ("get", f"/webhooks/{endpoint['id']}/deliveries"),
        ("get", "/alerts"),
        ("post", "/alerts"),
    ]:
        response = getattr(api_client, method)(path, {}, format="json")
        assert response.status_code == 401, (method, path)
        assert "detail" in response.json()


def test_another_users_endpoints_and_alerts_are_404(auth_client, other_client, endpoint, product):
    alert = auth_client.post(
        "/alerts",
        {"webhook_id": endpoint["id"], "product_id": str(product.id), "kind": "back_in_stock"},
        format="json",
    ).json()
    webhook = endpoint["id"]
    for method, path in [
        ("get", f"/webhooks/{webhook}"),
        ("patch", f"/webhooks/{webhook}"),
        ("delete", f"/webhooks/{webhook}"),
        ("post", f"/webhooks/{webhook}/ping"),
        ("get", f"/webhooks/{webhook}/deliveries"),
        ("get", f"/alerts/{alert['id']}"),
        ("delete", f"/alerts/{alert['id']}"),
    ]:
        response = getattr(other_client, method)(path, {}, format="json")
        assert response.status_code == 404, (method, path)
        assert response.json() == {"detail": "Not found."}, (method, path)
    assert other_client.get("/webhooks").json() == []
    assert other_client.get("/alerts").json() == []
    # Nor can they point an alert at it.
    response = other_client.post(
        "/alerts", {"webhook_id": webhook, "product_id": None, "kind": "back_in_stock"}, format="json"
    )
    assert response.status_code == 404
    assert response.json() == {"detail": "No such webhook endpoint."}
    assert WebhookEndpoint.objects.filter(id=webhook, is_active=True).exists()
    assert Alert.objects.count() == 1 and Delivery.objects.count() == 0


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"url": ""},
        {"url": 42},
        {"url": ["http://example.com"]},
        {"url": "ftp://example.com/hook"},
        {"url": "file:///etc/passwd"},
        {"url": "http://"},
        {"url": "http://user:pw@example.com/"},
        {"url": "http://exa mple.com/"},
        {"url": "http://example.com:99999/"},
        {"url": "http://example.com/" + "a" * 2001},
        {"url": "http://[::1]/"},
        {"url": "HTTP://example.com/"},
        {"url": "http://exa*mple.com/"},
        {"url": "http://example.com/#frag"},
        {"url": "http://example.com/", "description": 5},
        {"url": "http://example.com/", "description": "x" * 501},
    ],
)
def test_bad_endpoint_input_is_400_and_creates_nothing(auth_client, body):
    response = auth_client.post("/webhooks", body, format="json")
    assert response.status_code == 400
    assert isinstance(response.json(), dict) and response.json()
    assert WebhookEndpoint.objects.count() == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://10.1.2.3/",
        "http://192.168.0.1/",
        "http://172.16.5.4/",
        "http://169.254.169.254/latest/meta-data",
        "http://224.0.0.1/",
        "http://0.0.0.0/",
        "http://100.64.0.1/",
        "https://2130706433/",
    ],
)
def test_private_addresses_are_refused_unless_allowed(auth_client, settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    response = auth_client.post("/webhooks", {"url": url}, format="json")
    assert response.status_code == 400, response.content
    assert "url" in response.json()
    assert WebhookEndpoint.objects.count() == 0


@pytest.mark.parametrize("address", ["64:ff9b::a00:1", "64:ff9b:1::a9fe:a9fe", "::10.0.0.1", "2002:7f00:1::1"])
def test_a_name_resolving_to_a_private_ipv4_inside_ipv6_is_refused(auth_client, settings, monkeypatch, address):
    # NAT64, local-use NAT64, IPv4-compatible and 6to4 addresses reach the IPv4 address they carry.
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    answer = [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, 443, 0, 0))]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: answer)
    response = auth_client.post("/webhooks", {"url": "https://hooks.example.com/in"}, format="json")
    assert response.status_code == 400, response.content
    assert "url" in response.json()
    assert WebhookEndpoint.objects.count() == 0


def test_a_url_can_not_be_changed_to_a_private_address(auth_client, settings, endpoint):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    response = auth_client.patch(f"/webhooks/{endpoint['id']}", {"url": "http://10.0.0.1/"}, format="json")
    assert response.status_code == 400
    assert WebhookEndpoint.objects.get(id=endpoint["id"]).url == endpoint["url"]


def test_patch_disables_and_reenables(auth_client, endpoint):
    path = f"/webhooks/{endpoint['id']}"
    assert auth_client.patch(path, {"is_active": False}, format="json").json()["is_active"] is False
    assert auth_client.patch(path, {"is_active": "yes"}, format="json").status_code == 400
    assert auth_client.get(path).json()["is_active"] is False
    assert auth_client.patch(path, {"is_active": True}, format="json").json()["is_active"] is True


def test_delete_removes_the_endpoint_and_its_alerts(auth_client, endpoint, product):
    auth_client.post(
        "/alerts", {"webhook_id": endpoint["id"], "product_id": None, "kind": "out_of_stock"}, format="json"
    )
    assert auth_client.post(f"/webhooks/{endpoint['id']}/ping").status_code == 202
    assert auth_client.delete(f"/webhooks/{endpoint['id']}").status_code == 204
    assert auth_client.get(f"/webhooks/{endpoint['id']}").status_code == 404
    assert auth_client.get("/alerts").json() == []
    assert Delivery.objects.count() == 0


def test_alert_is_created_listed_filtered_and_deleted(auth_client, endpoint, product):
    other = Product.objects.create(name="Toaster")
    created = auth_client.post(
        "/alerts",
        {"webhook_id": endpoint["id"], "product_id": str(product.id), "kind": "price_below", "threshold": 1999},
        format="json",
    )
    assert created.status_code == 201
    alert = created.json()
    assert alert["webhook_id"] == endpoint["id"] and alert["product_id"] == str(product.id)
    assert alert["kind"] == "price_below" and alert["threshold"] == 1999
    every = auth_client.post(
        "/alerts",
        {"webhook_id": endpoint["id"], "product_id": None, "kind": "price_drop", "threshold": 10},
        format="json",
    ).json()
    assert every["product_id"] is None
    assert [a["id"] for a in auth_client.get("/alerts").json()] == [alert["id"], every["id"]]
    assert [a["id"] for a in auth_client.get(f"/alerts?product_id={product.id}").json()] == [alert["id"]]
    assert auth_client.get(f"/alerts?product_id={other.id}").json() == []
    assert auth_client.get("/alerts?product_id=nope").status_code == 400
    assert auth_client.get(f"/alerts/{alert['id']}").json() == alert
    assert auth_client.delete(f"/alerts/{alert['id']}").status_code == 204
    assert auth_client.get(f"/alerts/{alert['id']}").status_code == 404
    assert auth_client.get("/alerts/not-a-uuid").status_code == 404


@pytest.mark.parametrize(
    "change",
    [
        {"kind": "price_below", "threshold": None},
        {"kind": "price_below", "threshold": -1},
        {"kind": "price_below", "threshold": "100"},
        {"kind": "price_below", "threshold": 10.5},
        {"kind": "price_below", "threshold": True},
        {"kind": "price_below", "threshold": 2**64},
        {"kind": "price_drop", "threshold": 0},
        {"kind": "price_drop", "threshold": 100},
        {"kind": "price_drop"},
        {"kind": "back_in_stock", "threshold": 5},
        {"kind": "out_of_stock", "threshold": 0},
        {"kind": "price_rise", "threshold": 5},
        {"kind": None},
        {"product_id": "not-a-uuid"},
        {"webhook_id": None},
        {"drop": "product_id"},
    ],
)
def test_bad_alert_input_is_400_and_creates_nothing(auth_client, endpoint, product, change):
    body = {"webhook_id": endpoint["id"], "product_id": str(product.id), "kind": "price_below", "threshold": 100}
    body.pop(change.pop("drop", None), None)
    body.update(change)
    response = auth_client.post("/alerts", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()
    assert Alert.objects.count() == 0


@pytest.mark.parametrize(
    ("field", "detail"), [("webhook_id", "No such webhook endpoint."), ("product_id", "No such product.")]
)
def test_an_alert_on_something_that_is_not_there_is_404(auth_client, endpoint, product, field, detail):
    body = {"webhook_id": endpoint["id"], "product_id": str(product.id), "kind": "back_in_stock"}
    response = auth_client.post("/alerts", {**body, field: str(uuid.uuid4())}, format="json")
    assert response.status_code == 404
    assert response.json() == {"detail": detail}
    assert Alert.objects.count() == 0


@pytest.mark.parametrize("object_id", ["623bad43-4d7b-46d1-8161-1b8523ae7507", "not-a-uuid"])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/webhooks/{}"),
        ("patch", "/webhooks/{}"),
        ("delete", "/webhooks/{}"),
        ("post", "/webhooks/{}/ping"),
        ("get", "/webhooks/{}/deliveries"),
        ("get", "/alerts/{}"),
        ("delete", "/alerts/{}"),
    ],
)
def test_an_unknown_or_malformed_id_is_404(auth_client, method, path, object_id):
    response = getattr(auth_client, method)(path.format(object_id), {}, format="json")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_a_name_that_does_not_resolve_yet_is_accepted_and_checked_at_delivery(auth_client):
    response = auth_client.post("/webhooks", {"url": "https://hooks.not-yet.invalid/in"}, format="json")
    assert response.status_code == 201


def test_malformed_json_is_400(auth_client):
    response = auth_client.post("/alerts", b"{not json", content_type="application/json")
    assert response.status_code == 400
    assert "detail" in response.json()


def test_lists_page_with_a_link(auth_client, receiver):
    for i in range(5):
        auth_client.post("/webhooks", {"url": f"{receiver.url}?n={i}"}, format="json")
    first = auth_client.get("/webhooks?limit=2")
    assert len(first.json()) == 2 and 'rel="next"' in first["Link"]
    seen = [e["url"] for e in first.json()]
    url = first["Link"].split(">")[0][1:]
    while url:
        page = auth_client.get(url)
        seen += [e["url"] for e in page.json()]
        url = page["Link"].split(">")[0][1:] if page.has_header("Link") else None
    assert seen == [f"{receiver.url}?n={i}" for i in range(5)]
    assert auth_client.get("/webhooks?limit=0").status_code == 400


def test_ping_queues_a_delivery_listed_newest_first(auth_client, endpoint):
    first = auth_client.post(f"/webhooks/{endpoint['id']}/ping")
    second = auth_client.post(f"/webhooks/{endpoint['id']}/ping")
    assert first.status_code == second.status_code == 202
    deliveries = auth_client.get(f"/webhooks/{endpoint['id']}/deliveries").json()
    assert [d["id"] for d in deliveries] == [second.json()["id"], first.json()["id"]]
    assert deliveries[0]["event_type"] == "webhook.ping" and deliveries[0]["status"] == "pending"
    assert set(deliveries[0]) == {
        "id", "event_id", "event_type", "status", "attempts", "last_status_code", "last_error",
        "next_attempt_at", "delivered_at", "created_at",
    }  # fmt: skip
    paged = auth_client.get(f"/webhooks/{endpoint['id']}/deliveries?limit=1")
    assert [d["id"] for d in paged.json()] == [second.json()["id"]]
    nxt = auth_client.get(paged["Link"].split(">")[0][1:]).json()
    assert [d["id"] for d in nxt] == [first.json()["id"]]
