"""POST /products/bulk as a consumer loading a catalogue uses it."""

import pytest

from catalogue.models import Product
from catalogue.services import BULK_CREATE_MAX
from offers_sync.registration import products_claim_due_registrations

pytestmark = pytest.mark.django_db


def bulk(client, body):
    return client.post("/products/bulk", body, format="json")


def test_creates_every_product_in_order_as_single_create_shows_it(auth_client):
    items = [{"name": f"  Item {i}  ", "description": f"number {i}"} for i in range(50)] + [{"name": "No description"}]
    response = bulk(auth_client, items)
    assert response.status_code == 201
    created = response.json()
    assert [p["name"] for p in created] == [f"Item {i}" for i in range(50)] + ["No description"]
    assert created[-1]["description"] is None
    single = auth_client.post("/products", {"name": "Single"}, format="json").json()
    assert all(p.keys() == single.keys() for p in created)
    assert all(p["registered"] is False for p in created)
    # Each is what GET shows for it.
    for product in created[:3]:
        assert auth_client.get(f"/products/{product['id']}").json() == product
    assert Product.objects.count() == 52


def test_created_products_are_left_for_the_worker_to_register(auth_client):
    from django.utils import timezone

    created = bulk(auth_client, [{"name": f"P{i}"} for i in range(20)]).json()
    due = products_claim_due_registrations(now=timezone.now(), limit=1000)
    assert {str(p.id) for p in due} == {p["id"] for p in created}


def test_one_bad_item_fails_the_whole_request_naming_every_bad_item(auth_client):
    items = [
        {"name": "ok"},
        {"name": ""},
        {"name": "fine", "description": 5},
        {"name": "x" * 256},
        "not an object",
        None,
    ]
    response = bulk(auth_client, items)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert [e["index"] for e in errors] == [1, 2, 3, 4, 5]
    assert set(errors[0]) == {"index", "name"}
    assert set(errors[1]) == {"index", "description"}
    assert set(errors[2]) == {"index", "name"}
    assert "non_field_errors" in errors[3]
    assert "non_field_errors" in errors[4]
    assert Product.objects.count() == 0


@pytest.mark.parametrize(
    "body",
    [[], {"name": "an object, not an array"}, "text", 5, None, [{"name": "x"}] * (BULK_CREATE_MAX + 1)],
    ids=["empty", "object", "string", "number", "null", "too-many"],
)
def test_not_an_array_of_1_to_1000_is_400_and_writes_nothing(auth_client, body):
    response = bulk(auth_client, body)
    assert response.status_code == 400
    assert "1000" in response.json()["detail"]
    assert Product.objects.count() == 0


def test_the_largest_bulk_is_accepted(auth_client):
    response = bulk(auth_client, [{"name": f"P{i}"} for i in range(BULK_CREATE_MAX)])
    assert response.status_code == 201
    assert len(response.json()) == BULK_CREATE_MAX == Product.objects.count()


def test_needs_a_token(api_client):
    assert bulk(api_client, [{"name": "x"}]).status_code == 401
    assert Product.objects.count() == 0


def test_malformed_json_is_400(auth_client):
    response = auth_client.post("/products/bulk", b"[{", content_type="application/json")
    assert response.status_code == 400
    assert Product.objects.count() == 0


def test_get_is_not_a_product_lookup(api_client):
    assert api_client.get("/products/bulk").status_code == 405
