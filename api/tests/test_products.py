"""The products API as a consumer uses it: status codes, bodies, auth, paging and errors."""

import json
import re
import uuid

import pytest
from django.utils import timezone

from catalogue.models import Product
from catalogue.tests.factories import ProductFactory
from offers_sync.models import Offer
from offers_sync.tests.factories import OfferFactory, ProductSyncStateFactory

pytestmark = pytest.mark.django_db


def create(client, **body):
    return client.post("/products", body, format="json")


def next_link(response) -> str | None:
    header = response.headers.get("Link")
    if not header:
        return None
    match = re.fullmatch(r'<([^>]+)>; rel="next"', header)
    assert match, header
    return match.group(1)


class TestCreate:
    def test_creates_and_returns_the_product(self, auth_client):
        response = create(auth_client, name="  Kettle  ", description="Boils water")
        assert response.status_code == 201
        body = response.json()
        assert body["name"] == "Kettle"
        assert body["description"] == "Boils water"
        assert uuid.UUID(body["id"])
        assert body["registered"] is False
        assert body["offers_synced_at"] is None
        assert {"created_at", "updated_at"} <= body.keys()
        assert response.headers["Location"] == f"/products/{body['id']}"
        assert Product.objects.get(pk=body["id"]).name == "Kettle"

    def test_description_is_optional_and_null(self, auth_client):
        body = create(auth_client, name="Mug").json()
        assert body["description"] is None

    def test_client_sent_id_is_ignored(self, auth_client):
        chosen = str(uuid.uuid4())
        body = create(auth_client, id=chosen, name="Mug").json()
        assert body["id"] != chosen

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"name": ""},
            {"name": "   "},
            {"name": "x" * 256},
            {"name": 42},
            {"name": None},
            {"name": ["a"]},
            {"name": {"a": 1}},
            {"name": "ok", "description": 5},
            {"name": "ok", "description": "x" * 10_001},
            {"name": "nul\x00byte"},
        ],
    )
    def test_bad_bodies_are_refused_and_write_nothing(self, auth_client, body):
        response = create(auth_client, **body)
        assert response.status_code == 400
        assert isinstance(response.json(), dict)
        assert Product.objects.count() == 0

    def test_name_of_255_characters_is_accepted_and_trimmed(self, auth_client):
        response = create(auth_client, name=" " + "x" * 253 + " ")
        assert response.status_code == 201
        assert response.json()["name"] == "x" * 253

    def test_surrounding_spaces_count_towards_the_255(self, auth_client):
        # The schema's maxLength speaks of the value as sent, so the server does too.
        response = create(auth_client, name=" " + "x" * 255 + " ")
        assert response.status_code == 400
        assert Product.objects.count() == 0

    @pytest.mark.parametrize("raw", ["[1, 2]", '"name"', "42", "null"])
    def test_non_object_json_is_refused(self, auth_client, raw):
        response = auth_client.post("/products", raw, content_type="application/json")
        assert response.status_code == 400
        assert "detail" in response.json() or "non_field_errors" in response.json()
        assert Product.objects.count() == 0

    def test_invalid_json_is_refused(self, auth_client):
        response = auth_client.post("/products", '{"name": ', content_type="application/json")
        assert response.status_code == 400
        assert "JSON parse error" in response.json()["detail"]
        assert Product.objects.count() == 0

    def test_body_over_one_mebibyte_is_refused_with_413(self, auth_client):
        body = json.dumps({"name": "big", "description": "x" * (1024 * 1024)})
        response = auth_client.post("/products", body, content_type="application/json")
        assert response.status_code == 413
        assert "detail" in response.json()
        assert Product.objects.count() == 0

    def test_non_json_content_type_is_refused(self, auth_client):
        response = auth_client.post("/products", "name=x", content_type="application/x-www-form-urlencoded")
        assert response.status_code == 415
        assert Product.objects.count() == 0

    def test_unauthenticated_write_is_401(self, api_client):
        response = create(api_client, name="Mug")
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Token"
        assert Product.objects.count() == 0

    def test_wrong_token_is_401(self, api_client):
        api_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-key")
        assert create(api_client, name="Mug").status_code == 401
        assert Product.objects.count() == 0


class TestList:
    def test_empty_list_is_an_empty_array(self, api_client):
        response = api_client.get("/products")
        assert response.status_code == 200
        assert response.json() == []
        assert "Link" not in response.headers

    def test_oldest_first(self, auth_client, api_client):
        names = [f"p{i}" for i in range(5)]
        for name in names:
            create(auth_client, name=name)
        assert [p["name"] for p in api_client.get("/products").json()] == names

    def test_search_on_name(self, auth_client, api_client):
        for name in ["Red kettle", "Blue mug", "KETTLE lid"]:
            create(auth_client, name=name)
        found = [p["name"] for p in api_client.get("/products?search=kettle").json()]
        assert found == ["Red kettle", "KETTLE lid"]

    def test_a_search_shows_each_product_as_the_list_does(self, api_client):
        # The sync state's fields are read another way with a search (api.products.product_rows).
        synced = ProductSyncStateFactory(
            product__name="Synced kettle", registered=True, offers_synced_at=timezone.now()
        )
        ProductSyncStateFactory(product__name="Registered kettle", registered=True)
        ProductFactory(name="Pending kettle")
        Product.objects.bulk_create([Product(name="Bulk kettle")])  # no sync state yet
        listed = api_client.get("/products").json()
        assert api_client.get("/products?search=kettle").json() == listed
        assert [(p["registered"], p["offers_synced_at"] is not None) for p in listed] == [
            (True, True),
            (True, False),
            (False, False),
            (False, False),
        ]
        assert listed[0]["offers_synced_at"] == synced.offers_synced_at.isoformat().replace("+00:00", "Z")

    def test_walk_sees_every_product_exactly_once_even_with_inserts(self, auth_client, api_client):
        created = [create(auth_client, name=f"p{i}").json()["id"] for i in range(23)]
        seen, url, pages = [], "/products?limit=5", 0
        while url:
            response = api_client.get(url)
            assert response.status_code == 200
            page = response.json()
            assert len(page) <= 5
            seen += [p["id"] for p in page]
            if pages == 1:  # a product added mid-walk lands at the end and is seen once too
                created.append(create(auth_client, name="late").json()["id"])
            url, pages = next_link(response), pages + 1
        assert seen == created
        assert pages == 5

    def test_link_header_absent_on_last_page(self, auth_client, api_client):
        for i in range(3):
            create(auth_client, name=f"p{i}")
        assert "Link" not in api_client.get("/products?limit=3").headers
        assert "Link" in api_client.get("/products?limit=2").headers

    def test_default_limit_is_100(self, api_client):
        Product.objects.bulk_create(Product(name=f"p{i}") for i in range(101))
        response = api_client.get("/products")
        assert len(response.json()) == 100
        assert next_link(response)

    @pytest.mark.parametrize("query", ["limit=0", "limit=1001", "limit=-1", "limit=abc", "cursor=not-a-cursor"])
    def test_bad_paging_parameters_are_400(self, api_client, query):
        response = api_client.get(f"/products?{query}")
        assert response.status_code == 400
        assert isinstance(response.json(), dict)

    def test_query_count_is_constant(self, api_client, django_assert_max_num_queries):
        Product.objects.bulk_create(Product(name=f"p{i}") for i in range(50))
        with django_assert_max_num_queries(1):
            assert len(api_client.get("/products").json()) == 50

    def test_a_later_page_is_one_query_too(self, api_client, django_assert_max_num_queries):
        Product.objects.bulk_create(Product(name=f"p{i}") for i in range(30))
        expected = list(Product.objects.order_by("created_at", "id").values_list("name", flat=True)[10:20])
        second_page = next_link(api_client.get("/products?limit=10"))
        with django_assert_max_num_queries(1):
            assert [p["name"] for p in api_client.get(second_page).json()] == expected


class TestDetail:
    def test_get(self, auth_client, api_client):
        product = create(auth_client, name="Mug").json()
        response = api_client.get(f"/products/{product['id']}")
        assert response.status_code == 200
        assert response.json() == product

    @pytest.mark.parametrize(
        "path", ["/products/623bad43-4d7b-46d1-8161-1b8523ae7507", "/products/not-a-uuid", "/products/..%2F..%2Fetc"]
    )
    def test_unknown_or_malformed_id_is_404_json(self, api_client, path):
        response = api_client.get(path)
        assert response.status_code == 404
        assert response.json() == {"detail": "Not found."}

    def test_put_replaces_name_and_description(self, auth_client):
        product = create(auth_client, name="Mug", description="Blue").json()
        response = auth_client.put(f"/products/{product['id']}", {"name": "Cup"}, format="json")
        assert response.status_code == 200
        assert response.json()["name"] == "Cup"
        assert response.json()["description"] is None
        stored = Product.objects.get(pk=product["id"])
        assert (stored.name, stored.description) == ("Cup", None)

    def test_put_needs_a_name(self, auth_client):
        product = create(auth_client, name="Mug", description="Blue").json()
        response = auth_client.put(f"/products/{product['id']}", {"description": "Red"}, format="json")
        assert response.status_code == 400
        assert Product.objects.get(pk=product["id"]).description == "Blue"

    def test_patch_updates_only_what_is_given(self, auth_client):
        product = create(auth_client, name="Mug", description="Blue").json()
        response = auth_client.patch(f"/products/{product['id']}", {"description": "Red"}, format="json")
        assert response.status_code == 200
        assert (response.json()["name"], response.json()["description"]) == ("Mug", "Red")

    def test_patch_with_invalid_name_changes_nothing(self, auth_client):
        product = create(auth_client, name="Mug").json()
        response = auth_client.patch(f"/products/{product['id']}", {"name": ""}, format="json")
        assert response.status_code == 400
        assert Product.objects.get(pk=product["id"]).name == "Mug"

    def test_delete_removes_product_and_its_offers(self, auth_client, api_client):
        product = create(auth_client, name="Mug").json()
        OfferFactory(product_id=product["id"], price=100, items_in_stock=1)
        response = auth_client.delete(f"/products/{product['id']}")
        assert response.status_code == 204
        assert api_client.get(f"/products/{product['id']}").status_code == 404
        assert Offer.objects.count() == 0

    def test_writes_to_unknown_product_are_404(self, auth_client):
        missing = f"/products/{uuid.uuid4()}"
        assert auth_client.put(missing, {"name": "x"}, format="json").status_code == 404
        assert auth_client.patch(missing, {"name": "x"}, format="json").status_code == 404
        assert auth_client.delete(missing).status_code == 404

    def test_unauthenticated_writes_are_401_and_change_nothing(self, auth_client, api_client):
        product = create(auth_client, name="Mug").json()
        path = f"/products/{product['id']}"
        assert api_client.put(path, {"name": "x"}, format="json").status_code == 401
        assert api_client.patch(path, {"name": "x"}, format="json").status_code == 401
        assert api_client.delete(path).status_code == 401
        assert Product.objects.get(pk=product["id"]).name == "Mug"

    def test_method_not_allowed_is_json(self, auth_client):
        response = auth_client.delete("/products")
        assert response.status_code == 405
        assert "detail" in response.json()

    def test_detail_query_count(self, auth_client, api_client, django_assert_max_num_queries):
        product = create(auth_client, name="Mug").json()
        with django_assert_max_num_queries(1):
            api_client.get(f"/products/{product['id']}")


class TestWritesRacingADelete:
    """Another request deletes the product between this one reading it and writing: 404, never 500."""

    @pytest.fixture
    def racing_client(self, auth_client):
        auth_client.raise_request_exception = False  # a crash is a 500 answer, as in production
        return auth_client

    @pytest.fixture
    def deleted_after_read(self, monkeypatch):
        """The view reads the product, then it is deleted (as by a DELETE answered meanwhile)."""
        from api.products import ProductDetailApi

        read = ProductDetailApi.get_object

        def read_then_lose(view):
            product = read(view)
            Product.objects.filter(pk=product.pk).delete()
            return product

        monkeypatch.setattr(ProductDetailApi, "get_object", read_then_lose)

    @pytest.fixture
    def deleted_during_validation(self, monkeypatch):
        """Deleted later still: after the service checked the new values, just before it writes them."""
        check = Product.full_clean

        def check_then_lose(product, *args, **kwargs):
            check(product, *args, **kwargs)
            Product.objects.filter(pk=product.pk).delete()

        monkeypatch.setattr(Product, "full_clean", check_then_lose)

    @pytest.mark.parametrize("race", ["deleted_after_read", "deleted_during_validation"])
    @pytest.mark.parametrize("method", ["put", "patch"])
    def test_an_update_of_a_product_deleted_meanwhile_is_404(self, request, racing_client, method, race):
        product = create(racing_client, name="Mug").json()
        request.getfixturevalue(race)
        response = getattr(racing_client, method)(f"/products/{product['id']}", {"name": "Cup"}, format="json")
        assert response.status_code == 404
        assert response.json() == {"detail": "Not found."}
        # Nothing written. (In the second race the delete runs in the update's own transaction,
        # which the 404 rolls back; a real concurrent delete is committed in its own.)
        assert not Product.objects.filter(name="Cup").exists()

    def test_a_delete_racing_a_delete_is_404(self, racing_client, deleted_after_read):
        product = create(racing_client, name="Mug").json()
        OfferFactory(product_id=product["id"], price=100, items_in_stock=1)
        response = racing_client.delete(f"/products/{product['id']}")
        assert response.status_code == 404
        assert response.json() == {"detail": "Not found."}
        assert Product.objects.count() == 0 and Offer.objects.count() == 0

    def test_an_update_that_wins_the_race_is_kept(self, racing_client):
        product = create(racing_client, name="Mug").json()
        response = racing_client.patch(f"/products/{product['id']}", {"name": "Cup"}, format="json")
        assert response.status_code == 200
        stored = Product.objects.get(pk=product["id"])
        assert stored.name == "Cup"
        assert response.json()["updated_at"] == stored.updated_at.isoformat().replace("+00:00", "Z")
