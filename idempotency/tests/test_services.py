"""Idempotency-Key on POST /products and POST /products/bulk, as a retrying consumer sees it."""

import threading
import uuid
from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from aggregator.tests.factories import TokenFactory, product_permissions
from catalogue.models import Product
from catalogue.services import product_create
from catalogue.tests.test_services import backends_waiting_on_a_lock, run_in_thread, wait_until
from idempotency.models import IdempotencyRecord

pytestmark = pytest.mark.django_db


def post(client, path, body, key, **extra):
    return client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key, **extra)


def client_for(username: str) -> APIClient:
    """A client of a new user who may create products."""
    user = get_user_model().objects.create_user(username=username)
    user.user_permissions.add(*product_permissions("add"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {TokenFactory(user=user).key}")
    return client


@pytest.mark.parametrize(
    ("path", "body"),
    [("/products", {"name": "Kettle"}), ("/products/bulk", [{"name": "Kettle"}, {"name": "Mug"}])],
    ids=["single", "bulk"],
)
def test_a_retry_gets_exactly_the_first_answer_and_creates_nothing(auth_client, path, body):
    key = str(uuid.uuid4())
    first = post(auth_client, path, body, key)
    assert first.status_code == 201
    count = Product.objects.count()
    again = post(auth_client, path, body, key)
    assert again.status_code == 201
    assert again.content == first.content
    assert again.headers.get("Location") == first.headers.get("Location")
    assert again["Idempotent-Replayed"] == "true"
    assert Product.objects.count() == count


def test_the_same_body_written_differently_is_the_same_request(auth_client):
    first = auth_client.post(
        "/products", b'{"name": "Kettle"}', content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    again = auth_client.post(
        "/products", b'{ "name":"Kettle" }', content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert again.content == first.content
    assert Product.objects.count() == 1


def test_the_same_key_with_another_body_is_422_and_creates_nothing(auth_client):
    post(auth_client, "/products", {"name": "Kettle"}, "k1")
    response = post(auth_client, "/products", {"name": "Teapot"}, "k1")
    assert response.status_code == 422
    assert "different request" in response.json()["detail"]
    # Another endpoint is another request too.
    assert post(auth_client, "/products/bulk", [{"name": "Kettle"}], "k1").status_code == 422
    assert list(Product.objects.values_list("name", flat=True)) == ["Kettle"]


def test_keys_are_per_user(auth_client):
    other = client_for("someone-else")
    mine = post(auth_client, "/products", {"name": "Kettle"}, "shared-key")
    theirs = post(other, "/products", {"name": "Kettle"}, "shared-key")
    assert theirs.status_code == 201
    assert theirs.json()["id"] != mine.json()["id"]
    assert "Idempotent-Replayed" not in theirs.headers
    # Nor can another user learn what a key of mine answered, or collide with it.
    assert post(other, "/products", {"name": "Teapot"}, "shared-key").status_code == 422  # theirs, not mine
    assert Product.objects.count() == 2


def test_a_failed_request_keeps_nothing_so_the_key_can_be_used_for_the_corrected_body(auth_client):
    bad = post(auth_client, "/products/bulk", [{"name": ""}], "k1")
    assert bad.status_code == 400
    assert post(auth_client, "/products/bulk", [{"name": ""}], "k1").status_code == 400  # same answer, nothing stored
    fixed = post(auth_client, "/products/bulk", [{"name": "Kettle"}], "k1")
    assert fixed.status_code == 201
    assert Product.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1


def test_a_key_expires_after_24_hours(auth_client):
    first = post(auth_client, "/products", {"name": "Kettle"}, "k1")
    IdempotencyRecord.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    again = post(auth_client, "/products", {"name": "Kettle"}, "k1")
    assert again.status_code == 201
    assert again.json()["id"] != first.json()["id"]
    assert Product.objects.count() == 2


def test_expired_records_are_pruned_as_keys_are_used(auth_client):
    for i in range(5):
        post(auth_client, "/products", {"name": "Kettle"}, f"old-{i}")
    IdempotencyRecord.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    post(auth_client, "/products", {"name": "Kettle"}, "new")
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]


@pytest.mark.parametrize(
    "key",
    ["", " ", "x" * 256, "with space", "tab\there", "é", "key\u200b"],
    ids=["empty", "space", "too-long", "inner-space", "tab", "non-ascii", "zero-width"],
)
def test_a_malformed_key_is_400_and_creates_nothing(auth_client, key):
    response = auth_client.post("/products", {"name": "Kettle"}, format="json", headers={"Idempotency-Key": key})
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()
    assert Product.objects.count() == 0


def test_the_longest_key_is_fine(auth_client):
    assert post(auth_client, "/products", {"name": "Kettle"}, "k" * 255).status_code == 201


def test_without_a_token_the_key_changes_nothing(api_client):
    assert post(api_client, "/products", {"name": "Kettle"}, "k1").status_code == 401
    assert IdempotencyRecord.objects.count() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_requests_with_one_key_at_once_create_once(api_user):
    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent writers: SQLite serialises them on its database lock")
    token = TokenFactory(user=api_user).key
    clients = [APIClient(), APIClient()]
    for client in clients:
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    inside, go_on = threading.Event(), threading.Event()

    def slow_create(**kwargs):
        inside.set()
        go_on.wait(20)
        return product_create(**kwargs)

    with mock.patch("api.products.product_create", side_effect=slow_create):
        first, first_out = run_in_thread(lambda: post(clients[0], "/products", {"name": "Kettle"}, "k1"))
        wait_until(inside.is_set, "the first request to be creating")
        second, second_out = run_in_thread(lambda: post(clients[1], "/products", {"name": "Kettle"}, "k1"))
        wait_until(lambda: backends_waiting_on_a_lock() >= 1, "the second request to wait on the key")
        go_on.set()
        first.join(20)
        second.join(20)
    a, b = first_out["result"], second_out["result"]
    assert (a.status_code, b.status_code) == (201, 201)
    assert a.content == b.content
    assert b["Idempotent-Replayed"] == "true"
    assert Product.objects.count() == 1
