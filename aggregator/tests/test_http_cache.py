"""Cache-Control, Vary and CORS on the API's answers, as caches and browsers read them."""

import pytest
from django.test import Client

from catalogue.tests.factories import ProductFactory
from offers_sync.tests.factories import OfferFactory

pytestmark = pytest.mark.django_db

ORIGIN = "https://compare.example"


@pytest.fixture
def product():
    product = ProductFactory(name="Kettle")
    OfferFactory(product=product, price=100, items_in_stock=1)
    return product


@pytest.fixture
def lifetimes(settings):
    settings.HTTP_CACHE_MAX_AGE = 7
    settings.HTTP_CACHE_STALE_WHILE_REVALIDATE = 11
    settings.HTTP_CACHE_STALE_IF_ERROR = 600


def public_reads(product) -> list[str]:
    return [
        "/products",
        f"/products/{product.id}",
        f"/products/{product.id}/offers",
        f"/products/{product.id}/offers?in_stock=true",
        f"/products/{product.id}/offers/history",
        f"/products/{product.id}/price-trend",
        "/offers/changes",
        "/schema",
    ]


def directives(response) -> set[str]:
    return {part.strip() for part in response["Cache-Control"].split(",")}


def vary(response) -> set[str]:
    return {part.strip().lower() for part in response.get("Vary", "").split(",") if part.strip()}


def test_public_reads_may_be_kept_by_any_cache_for_the_configured_lifetime(lifetimes, product):
    client = Client()
    for path in public_reads(product):
        response = client.get(path)
        assert response.status_code == 200, path
        assert directives(response) == {
            "public",
            "max-age=7",
            "s-maxage=7",
            "stale-while-revalidate=11",
            "stale-if-error=600",
        }, path
        # A request with a token must not get the copy kept for requests without one; the
        # answer for a browser on another origin names that origin.
        assert {"authorization", "origin"} <= vary(response), path
        head = client.head(path)
        assert head["Cache-Control"] == response["Cache-Control"], path


def test_a_304_says_what_the_200_said(lifetimes, product):
    client = Client()
    path = f"/products/{product.id}/offers"
    first = client.get(path)
    again = client.get(path, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    assert again["Cache-Control"] == first["Cache-Control"]
    assert vary(again) == vary(first)


def test_the_schema_varies_by_what_is_accepted(product):
    assert "accept" in vary(Client().get("/schema"))


def test_reads_with_a_token_are_never_shared(lifetimes, product, auth_client):
    for path in public_reads(product):
        response = auth_client.get(path)
        assert response.status_code == 200, path
        # Only the caller's own browser may keep it, and it asks again every time.
        assert directives(response) == {"private", "no-cache"}, path
        assert "authorization" in vary(response), path


def test_a_writer_reads_its_own_write_at_once(auth_client, product):
    path = f"/products/{product.id}"
    before = auth_client.get(path)
    assert auth_client.patch(path, {"name": "Kettle 2"}, format="json").status_code == 200
    after = auth_client.get(path, HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200
    assert after.json()["name"] == "Kettle 2"
    assert "private" in directives(after)


def test_a_token_holders_own_resources_are_never_stored(auth_client):
    for path in ["/webhooks", "/alerts"]:
        response = auth_client.get(path)
        assert response.status_code == 200, path
        assert directives(response) == {"private", "no-store"}, path


def test_writes_and_errors_are_never_stored(product, auth_client):
    client = Client()
    answers = {
        "unknown product": client.get("/products/5c0a4b7e-0000-4000-8000-000000000000/offers"),
        "bad filter": client.get(f"/products/{product.id}/offers?min_price=lots"),
        "write without a token": client.post("/products", {"name": "x"}, content_type="application/json"),
        "write": auth_client.post("/products", {"name": "Toaster"}, format="json"),
        "unknown path": client.get("/nowhere"),
    }
    expected = {"unknown product": 404, "bad filter": 400, "write without a token": 401, "write": 201}
    for name, response in answers.items():
        assert response.status_code == expected.get(name, 404), name
        assert directives(response) == {"private", "no-store"}, name


def test_health_metrics_and_admin_are_never_stored(settings):
    settings.METRICS_TOKEN = "metrics-secret"
    client = Client()
    assert directives(client.get("/health")) == {"private", "no-store"}
    metrics = client.get("/metrics", HTTP_AUTHORIZATION="Bearer metrics-secret")
    assert metrics.status_code == 200
    assert directives(metrics) >= {"private", "no-store"}
    admin = client.get("/admin/login/")
    assert admin.status_code == 200
    assert {"private", "no-store"} <= directives(admin)


def test_any_origin_reads_without_a_token(product):
    response = Client().get(f"/products/{product.id}/offers", HTTP_ORIGIN=ORIGIN)
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert "Access-Control-Allow-Credentials" not in response
    assert "etag" in response["Access-Control-Expose-Headers"].lower()
    assert "origin" in vary(response)


def test_a_read_preflight_is_answered_for_any_origin_and_cacheable(product):
    response = Client().options(
        f"/products/{product.id}/offers",
        HTTP_ORIGIN=ORIGIN,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="if-none-match",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert "if-none-match" in response["Access-Control-Allow-Headers"]
    assert int(response["Access-Control-Max-Age"]) > 0
    assert {"origin", "access-control-request-method", "access-control-request-headers"} <= vary(response)


def preflight_with_token(origin: str, method: str = "POST"):
    return Client().options(
        "/products",
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD=method,
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
    )


def test_only_listed_origins_may_send_a_token(settings, product, auth_client):
    settings.CORS_ALLOWED_ORIGINS = ["https://admin.compare.example"]
    for method in ["GET", "POST"]:
        assert "Access-Control-Allow-Origin" not in preflight_with_token(ORIGIN, method), method
        listed = preflight_with_token("https://admin.compare.example", method)
        assert listed["Access-Control-Allow-Origin"] == "https://admin.compare.example", method
        assert "authorization" in listed["Access-Control-Allow-Headers"], method
    # And the request itself, should a browser send it anyway.
    assert "Access-Control-Allow-Origin" not in auth_client.get("/products", HTTP_ORIGIN=ORIGIN)
    listed = auth_client.get("/products", HTTP_ORIGIN="https://admin.compare.example")
    assert listed["Access-Control-Allow-Origin"] == "https://admin.compare.example"


def test_writes_without_a_listed_origin_are_not_allowed_cross_origin():
    response = Client().options(
        "/products", HTTP_ORIGIN=ORIGIN, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type",
    )  # fmt: skip
    assert "Access-Control-Allow-Origin" not in response


def test_the_admin_and_metrics_are_not_open_to_other_origins(settings):
    settings.METRICS_TOKEN = "metrics-secret"
    client = Client()
    assert "Access-Control-Allow-Origin" not in client.get("/admin/login/", HTTP_ORIGIN=ORIGIN)
    assert "Access-Control-Allow-Origin" not in client.get("/metrics", HTTP_ORIGIN=ORIGIN)
