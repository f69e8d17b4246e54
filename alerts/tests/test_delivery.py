"""Deliveries over real HTTP to a receiver that verifies every signature with standardwebhooks."""

import socket
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import Delivery, DeliveryAttempt, WebhookEndpoint
from alerts.services import deliveries_retry_now
from alerts.tests.conftest import Offers, deliver_due

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def quick_retries(settings):
    settings.WEBHOOK_RETRY_DELAYS = (0, 0, 0)
    settings.WEBHOOK_TIMEOUT = 2


def ping(auth_client, endpoint) -> dict:
    response = auth_client.post(f"/webhooks/{endpoint['id']}/ping")
    assert response.status_code == 202
    return response.json()


def deliveries(auth_client, endpoint) -> list[dict]:
    return auth_client.get(f"/webhooks/{endpoint['id']}/deliveries").json()


def test_a_ping_arrives_signed_with_standard_webhooks_headers(auth_client, endpoint, receiver):
    queued = ping(auth_client, endpoint)
    before = int(time.time())
    assert "1 delivered" in deliver_due()
    [got] = receiver.received
    assert got.verified
    assert got.webhook_id == queued["event_id"] == got.body["id"]
    assert got.body["type"] == "webhook.ping" and got.body["data"] == {"webhook_id": endpoint["id"]}
    assert before - 1 <= int(got.timestamp) <= int(time.time()) + 1
    [shown] = deliveries(auth_client, endpoint)
    assert shown["status"] == "delivered" and shown["attempts"] == 1 and shown["last_status_code"] == 200
    assert shown["delivered_at"] and shown["next_attempt_at"] is None and shown["last_error"] == ""


def test_500_500_200_is_three_attempts_of_one_webhook_id(auth_client, endpoint, receiver):
    receiver.answers = [500, 500]
    queued = ping(auth_client, endpoint)
    deliver_due()
    assert [r.webhook_id for r in receiver.received] == [queued["event_id"]] * 3
    assert all(r.verified for r in receiver.received)
    [shown] = deliveries(auth_client, endpoint)
    assert shown["status"] == "delivered" and shown["attempts"] == 3
    codes = list(DeliveryAttempt.objects.order_by("attempted_at", "id").values_list("status_code", flat=True))
    assert codes == [500, 500, 200]


def test_retries_follow_the_schedule_then_the_delivery_fails(auth_client, endpoint, receiver, settings):
    settings.WEBHOOK_RETRY_DELAYS = (0, 3600)
    receiver.answers = [503, 502, 500]
    ping(auth_client, endpoint)
    started = timezone.now()
    deliver_due()
    [shown] = deliveries(auth_client, endpoint)
    # Two attempts now; the third waits an hour.
    assert len(receiver.received) == 2 and shown["status"] == "pending" and shown["attempts"] == 2
    assert shown["last_status_code"] == 502 and shown["last_error"] == "HTTP 502"
    next_at = Delivery.objects.get().next_attempt_at
    assert started + timedelta(seconds=3590) < next_at < timezone.now() + timedelta(seconds=3610)
    Delivery.objects.update(next_attempt_at=timezone.now())  # an hour later
    deliver_due()
    [shown] = deliveries(auth_client, endpoint)
    assert shown["status"] == "failed" and shown["attempts"] == 3 and shown["next_attempt_at"] is None
    deliver_due()
    assert len(receiver.received) == 3


def test_redirects_are_not_followed(auth_client, endpoint, receiver, settings):
    settings.WEBHOOK_RETRY_DELAYS = (60,)
    receiver.answers = [302]
    receiver.redirect_to = receiver.url + "/elsewhere"
    ping(auth_client, endpoint)
    deliver_due()
    assert [r.path for r in receiver.received] == ["/hook"]
    [shown] = deliveries(auth_client, endpoint)
    assert shown["status"] == "pending" and shown["last_status_code"] == 302
    assert "redirect" in shown["last_error"]


def test_a_slow_receiver_times_out_and_the_worker_goes_on(auth_client, endpoint, receiver, settings):
    settings.WEBHOOK_TIMEOUT = 1
    settings.WEBHOOK_RETRY_DELAYS = (60,)
    receiver.delay = 3
    ping(auth_client, endpoint)
    started = time.monotonic()
    deliver_due()
    assert time.monotonic() - started < 3
    [shown] = deliveries(auth_client, endpoint)
    assert shown["status"] == "pending" and shown["attempts"] == 1 and "timed out" in shown["last_error"]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_refused_connection_is_a_failed_attempt(auth_client, settings):
    settings.WEBHOOK_RETRY_DELAYS = ()
    created = auth_client.post("/webhooks", {"url": f"http://127.0.0.1:{closed_port()}/"}, format="json").json()
    ping(auth_client, created)
    deliver_due()
    [shown] = deliveries(auth_client, created)
    assert shown["status"] == "failed" and shown["last_status_code"] is None
    assert "connection" in shown["last_error"]
    assert "127.0.0.1" not in shown["last_error"]


def test_a_private_address_is_refused_again_at_delivery(auth_client, endpoint, receiver, settings):
    settings.WEBHOOK_RETRY_DELAYS = ()
    ping(auth_client, endpoint)
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    deliver_due()
    assert receiver.received == []
    [shown] = deliveries(auth_client, endpoint)
    assert shown["status"] == "failed" and "refused" in shown["last_error"]


def test_an_endpoint_failing_for_too_long_is_disabled_and_resumes_when_reenabled(
    auth_client, endpoint, receiver, settings
):
    settings.WEBHOOK_RETRY_DELAYS = (0,)
    settings.WEBHOOK_DISABLE_AFTER_HOURS = 24
    receiver.answers = [500]
    ping(auth_client, endpoint)
    deliver_due()  # 500 then 200: failing, then healthy again
    assert auth_client.get(f"/webhooks/{endpoint['id']}").json()["failing_since"] is None
    receiver.answers = [500, 500]
    ping(auth_client, endpoint)
    # The state a day of failures leaves: failing since 25 hours.
    WebhookEndpoint.objects.update(failing_since=timezone.now() - timedelta(hours=25))
    deliver_due()
    shown = auth_client.get(f"/webhooks/{endpoint['id']}").json()
    assert shown["is_active"] is False
    received = len(receiver.received)
    settings.WEBHOOK_RETRY_DELAYS = (0, 0)
    Delivery.objects.update(next_attempt_at=timezone.now())
    refused = auth_client.post(f"/webhooks/{endpoint['id']}/ping")  # nothing new for a disabled endpoint
    assert refused.status_code == 409
    assert "disabled" in refused.json()["detail"]
    deliver_due()
    assert len(receiver.received) == received  # nothing goes to a disabled endpoint
    auth_client.patch(f"/webhooks/{endpoint['id']}", {"is_active": True}, format="json")
    deliver_due()
    assert all(d["status"] == "delivered" for d in deliveries(auth_client, endpoint))


def test_retry_now_gives_a_failed_delivery_another_attempt(auth_client, endpoint, receiver, settings):
    settings.WEBHOOK_RETRY_DELAYS = ()
    receiver.answers = [500]
    ping(auth_client, endpoint)
    deliver_due()
    assert deliveries(auth_client, endpoint)[0]["status"] == "failed"
    assert deliveries_retry_now(deliveries=Delivery.objects.all()) == 1
    deliver_due()
    [shown] = deliveries(auth_client, endpoint)
    assert shown["status"] == "delivered" and shown["attempts"] == 2
    assert len({r.webhook_id for r in receiver.received}) == 1


def test_a_delivery_deleted_while_in_flight_does_not_spoil_the_others_records(auth_client, endpoint, receiver):
    from alerts.dispatch import deliveries_claim, deliveries_record, delivery_send

    other = auth_client.post("/webhooks", {"url": receiver.url + "?other"}, format="json").json()
    receiver.secrets.append(other["secret"])
    ping(auth_client, endpoint)
    ping(auth_client, other)
    claimed = deliveries_claim(limit=10)
    results = [(item, delivery_send(item)) for item in claimed]
    auth_client.delete(f"/webhooks/{other['id']}")  # its delivery goes while the attempt was out
    statuses = deliveries_record(results)
    assert sorted(statuses) == ["delivered", "gone"]
    [shown] = deliveries(auth_client, endpoint)
    assert shown["status"] == "delivered" and shown["attempts"] == 1


def test_a_disabled_endpoint_gets_no_new_deliveries(auth_client, endpoint, receiver, product):
    offers = Offers(product.id)
    offers.report((500, 1))
    alert = {"webhook_id": endpoint["id"], "product_id": str(product.id), "kind": "price_below", "threshold": 300}
    assert auth_client.post("/alerts", alert, format="json").status_code == 201
    auth_client.patch(f"/webhooks/{endpoint['id']}", {"is_active": False}, format="json")

    offers.report((200, 1))  # crosses the threshold while the endpoint is disabled
    assert auth_client.post(f"/webhooks/{endpoint['id']}/ping").status_code == 409
    assert deliveries(auth_client, endpoint) == []
    deliver_due()
    assert receiver.received == []

    # Enabled again, it gets what happens from then on.
    auth_client.patch(f"/webhooks/{endpoint['id']}", {"is_active": True}, format="json")
    offers.report((400, 1))
    offers.report((250, 1))
    deliver_due()
    assert [r.body["data"]["best_price"] for r in receiver.received] == [250]
