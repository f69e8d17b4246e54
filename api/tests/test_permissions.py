"""Product writes need the user's permissions; reads stay public (api.permissions)."""

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from aggregator.tests.factories import TokenFactory, UserFactory, product_permissions
from alerts.models import Alert
from catalogue.models import Product
from catalogue.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

FORBIDDEN = {"detail": "You do not have permission to perform this action."}


def client_of(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {TokenFactory(user=user).key}")
    return client


def grant(user, *actions: str) -> None:
    user.user_permissions.add(*product_permissions(*actions))


@pytest.fixture
def kettle():
    return ProductFactory(name="Kettle", description="1.7 l")


def test_a_token_without_permissions_can_read_but_not_write(plain_client, kettle):
    assert plain_client.get("/products").status_code == 200
    assert plain_client.get(f"/products/{kettle.id}").status_code == 200
    writes = [
        plain_client.post("/products", {"name": "Mug"}, format="json"),
        plain_client.post("/products/bulk", [{"name": "Mug"}, {"name": "Cup"}], format="json"),
        plain_client.put(f"/products/{kettle.id}", {"name": "Pot"}, format="json"),
        plain_client.patch(f"/products/{kettle.id}", {"name": "Pot"}, format="json"),
        plain_client.delete(f"/products/{kettle.id}"),
    ]
    for response in writes:
        assert response.status_code == 403, response.content
        assert response.json() == FORBIDDEN
    kettle.refresh_from_db()
    assert (kettle.name, kettle.description) == ("Kettle", "1.7 l")
    assert list(Product.objects.values_list("name", flat=True)) == ["Kettle"]


def test_anonymous_reads_still_work_and_writes_are_401(api_client, kettle):
    assert api_client.get("/products").status_code == 200
    assert api_client.get(f"/products/{kettle.id}").status_code == 200
    assert api_client.post("/products", {"name": "Mug"}, format="json").status_code == 401


def test_each_permission_allows_its_own_writes_only(plain_user, plain_client, kettle):
    grant(plain_user, "add")
    created = plain_client.post("/products", {"name": "Mug"}, format="json")
    assert created.status_code == 201
    assert plain_client.post("/products/bulk", [{"name": "Cup"}], format="json").status_code == 201
    assert plain_client.patch(f"/products/{kettle.id}", {"name": "Pot"}, format="json").status_code == 403

    grant(plain_user, "change")
    assert plain_client.patch(f"/products/{kettle.id}", {"name": "Pot"}, format="json").status_code == 200
    assert plain_client.put(f"/products/{kettle.id}", {"name": "Teapot"}, format="json").status_code == 200
    assert plain_client.delete(f"/products/{kettle.id}").status_code == 403
    assert Product.objects.get(pk=kettle.id).name == "Teapot"

    grant(plain_user, "delete")
    assert plain_client.delete(f"/products/{kettle.id}").status_code == 204
    assert not Product.objects.filter(pk=kettle.id).exists()


def test_a_groups_permissions_count(plain_user, plain_client):
    writers = Group.objects.create(name="catalogue writers")
    writers.permissions.add(*product_permissions("add", "change"))
    plain_user.groups.add(writers)
    assert plain_client.post("/products", {"name": "Mug"}, format="json").status_code == 201


def test_a_superuser_may_do_everything(kettle):
    admin = UserFactory(username="root", is_superuser=True, is_staff=True)
    client = client_of(admin)
    assert client.post("/products", {"name": "Mug"}, format="json").status_code == 201
    assert client.patch(f"/products/{kettle.id}", {"name": "Pot"}, format="json").status_code == 200
    assert client.delete(f"/products/{kettle.id}").status_code == 204


def test_another_user_without_rights_cannot_erase_someone_elses_product_and_alerts(auth_client, plain_client):
    # The report: a second user renamed, then deleted the first user's product and her alert went with it.
    product = auth_client.post("/products", {"name": "Kettle"}, format="json").json()
    hook = auth_client.post("/webhooks", {"url": "https://hooks.example.com/in"}, format="json").json()
    alert = {"webhook_id": hook["id"], "product_id": product["id"], "kind": "back_in_stock"}
    assert auth_client.post("/alerts", alert, format="json").status_code == 201
    assert plain_client.patch(f"/products/{product['id']}", {"name": "Mine"}, format="json").status_code == 403
    assert plain_client.delete(f"/products/{product['id']}").status_code == 403
    assert auth_client.get(f"/products/{product['id']}").json()["name"] == "Kettle"
    assert Alert.objects.filter(product_id=product["id"]).count() == 1


def test_a_refused_idempotent_request_is_not_remembered(plain_user, plain_client):
    key = {"HTTP_IDEMPOTENCY_KEY": "create-mug-1"}
    assert plain_client.post("/products", {"name": "Mug"}, format="json", **key).status_code == 403
    grant(plain_user, "add")
    first = plain_client.post("/products", {"name": "Mug"}, format="json", **key)
    assert first.status_code == 201
    again = plain_client.post("/products", {"name": "Mug"}, format="json", **key)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Product.objects.filter(name="Mug").count() == 1
