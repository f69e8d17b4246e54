"""Registering products when they are created through the API."""

import json
from datetime import timedelta

import pytest
import requests
import responses
from django.utils import timezone

from catalogue.models import Product
from offers_sync.tests.factories import make_access_token, store_token, sync_state_of

BASE = "http://offers.test"
REGISTER = f"{BASE}/api/v1/products/register"
# Real commits: registration runs once the product is committed (on_commit), as in production.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def offers_service(settings):
    settings.OFFERS_SERVICE_URL = BASE
    settings.OFFERS_REFRESH_TOKEN = "refresh"
    store_token(token=make_access_token(), expires_at=timezone.now() + timedelta(minutes=5))


def create(auth_client, **body):
    return auth_client.post("/products", body, format="json")


@responses.activate
def test_created_product_is_registered_in_the_same_request(offers_service, auth_client):
    responses.post(REGISTER, status=201, json={"id": "x"})
    response = create(auth_client, name="Mug")
    assert response.status_code == 201
    assert response.json()["registered"] is True
    sent = json.loads(responses.calls[0].request.body)
    assert sent == {"id": response.json()["id"], "name": "Mug", "description": ""}
    assert sync_state_of(Product.objects.get()).registered_at is not None


@responses.activate
def test_already_registered_409_counts_as_registered(offers_service, auth_client):
    responses.post(REGISTER, status=409, json={"detail": "exists"})
    assert create(auth_client, name="Mug").json()["registered"] is True


@responses.activate
@pytest.mark.parametrize("fault", [503, "timeout", "refused"])
def test_offers_service_down_still_creates_a_pending_product(offers_service, auth_client, fault):
    if fault == "timeout":
        responses.post(REGISTER, body=requests.ReadTimeout())
    elif fault == "refused":
        responses.post(REGISTER, body=requests.ConnectionError())
    else:
        responses.post(REGISTER, status=fault)
    response = create(auth_client, name="Mug")
    assert response.status_code == 201
    assert response.json()["registered"] is False
    state = sync_state_of(Product.objects.get())
    assert state.registered_at is None
    assert state.next_registration_at <= timezone.now()  # due for the worker's next cycle
    assert len(responses.calls) == 1  # the web process does not retry: the worker will


def test_without_an_offers_service_the_product_is_pending(auth_client):
    response = create(auth_client, name="Mug")
    assert response.status_code == 201
    assert response.json()["registered"] is False


@pytest.mark.django_db
def test_products_inserted_in_bulk_get_their_sync_state_from_the_worker(offers_service):
    from offers_sync.models import ProductSyncState
    from offers_sync.registration import product_sync_states_create_missing, products_claim_due_registrations

    Product.objects.bulk_create(Product(name=f"bulk {i}") for i in range(3))
    assert ProductSyncState.objects.count() == 0
    now = timezone.now()
    assert product_sync_states_create_missing(now=now) == 3
    assert product_sync_states_create_missing(now=now) == 0  # once only
    assert {p.name for p in products_claim_due_registrations(now=now, limit=10)} == {"bulk 0", "bulk 1", "bulk 2"}


@pytest.mark.django_db
def test_the_cheap_check_looks_at_recent_products_and_the_full_one_at_all():
    from offers_sync.models import ProductSyncState
    from offers_sync.registration import product_sync_states_create_missing

    now = timezone.now()
    old, recent = Product.objects.bulk_create([Product(name="old"), Product(name="recent")])
    Product.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=3))
    assert product_sync_states_create_missing(now=now, created_since=now - timedelta(minutes=10)) == 1
    assert ProductSyncState.objects.get().product_id == recent.id
    assert product_sync_states_create_missing(now=now) == 1
    assert ProductSyncState.objects.filter(product_id=old.id).exists()


@responses.activate
def test_the_admin_registers_a_product_inserted_in_bulk(offers_service, admin_client):
    responses.post(REGISTER, status=201, json={"id": "x"})
    (product,) = Product.objects.bulk_create([Product(name="Bulk")])
    response = admin_client.post(
        "/admin/catalogue/product/", {"action": "register_now", "_selected_action": [str(product.id)]}, follow=True
    )
    assert b"Registered 1 of 1 pending product(s)." in response.content
    assert sync_state_of(product).registered_at is not None
