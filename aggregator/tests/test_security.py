"""Security: writes need a token, the admin needs staff, secrets never leave the process, and
neither /health nor an error says anything about the inside.

(The container's non-root user is the Docker set-up's, tested there.)
"""

import base64
import json
import logging
from io import StringIO
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import OperationalError
from django.test import Client
from rest_framework.test import APIClient

from aggregator.tests.factories import TokenFactory
from catalogue.models import Product
from catalogue.tests.factories import ProductFactory
from devtools.fake_service import FakeOffersService
from offers_sync.models import AccessToken, Offer, ProductSyncState
from offers_sync.tests.factories import OfferFactory

pytestmark = pytest.mark.django_db

REFRESH_TOKEN = "refresh-TOKEN-that-must-never-be-seen-4f1c9a"


def write_operations(client) -> list[tuple[str, str]]:
    """Every write the API documents, with its path's id filled in: new endpoints are covered too."""
    schema = client.get("/schema?format=json").json()
    operations = []
    for path, methods in schema["paths"].items():
        for method in methods:
            if method in {"post", "put", "patch", "delete"}:
                operations.append((method, path))
    return operations


class TestWritesNeedAToken:
    @pytest.mark.parametrize(
        "authorization",
        [None, "Token wrong", "Token ", "Bearer " + "a" * 40, "Basic YWRtaW46YWRtaW4="],
        ids=["none", "unknown token", "empty token", "bearer scheme", "basic auth"],
    )
    def test_every_documented_write_is_401_without_a_valid_token(self, api_client, authorization):
        product = ProductFactory(name="Mug", description="Blue")
        OfferFactory(product=product, price=100, items_in_stock=1)
        if authorization:
            api_client.credentials(HTTP_AUTHORIZATION=authorization)
        operations = write_operations(APIClient())
        assert ("post", "/products") in operations and ("delete", "/products/{product_id}") in operations
        for method, path in operations:
            url = path.replace("{product_id}", str(product.id))
            response = getattr(api_client, method)(url, {"name": "changed"}, format="json")
            assert response.status_code == 401, (method, path, response.status_code)
            assert response.headers["WWW-Authenticate"] == "Token"
        assert list(Product.objects.values_list("name", "description")) == [("Mug", "Blue")]
        assert Offer.objects.count() == 1

    def test_a_deleted_users_token_stops_working(self, auth_client, api_user):
        assert auth_client.post("/products", {"name": "Mug"}, format="json").status_code == 201
        api_user.is_active = False
        api_user.save()
        assert auth_client.post("/products", {"name": "Cup"}, format="json").status_code == 401
        assert Product.objects.count() == 1

    def test_a_session_cookie_alone_does_not_authorise_writes(self, admin_client):
        # The admin's login session must not double as API credentials (no CSRF exposure).
        response = admin_client.post("/products", {"name": "Mug"}, content_type="application/json")
        assert response.status_code == 401
        assert Product.objects.count() == 0


class TestAdminNeedsStaff:
    @pytest.fixture
    def product(self):
        return ProductFactory(name="Mug")

    def admin_pages(self, product) -> list[str]:
        return [
            "/admin/",
            "/admin/catalogue/product/",
            f"/admin/catalogue/product/{product.id}/change/",
            "/admin/offers_sync/offer/",
            "/admin/offers_sync/syncstatus/",
            "/admin/auth/user/",
        ]

    def test_anonymous_is_sent_to_the_login_page(self, client, product):
        for page in self.admin_pages(product):
            response = client.get(page)
            assert response.status_code == 302, page
            assert response.headers["Location"].startswith("/admin/login/")

    def test_an_api_user_with_a_token_but_no_staff_flag_gets_nothing(self, client, api_user, product):
        token = TokenFactory(user=api_user)
        client.force_login(api_user)
        for page in self.admin_pages(product):
            response = client.get(page, HTTP_AUTHORIZATION=f"Token {token.key}")
            assert response.status_code == 302, page
            assert response.headers["Location"].startswith("/admin/login/")
        response = client.post(f"/admin/catalogue/product/{product.id}/delete/", {"post": "yes"})
        assert response.status_code == 302
        assert Product.objects.filter(pk=product.id).exists()

    def test_staff_get_in(self, admin_client, product):
        for page in self.admin_pages(product):
            assert admin_client.get(page).status_code == 200, page


class TestSecretsStayInside:
    @pytest.fixture
    def fake(self, settings):
        with FakeOffersService(
            refresh_token=REFRESH_TOKEN, latency_ms=0, jitter_ms=0, churn_interval=0, seed=11
        ) as service:
            settings.OFFERS_SERVICE_URL = service.url
            settings.OFFERS_REFRESH_TOKEN = REFRESH_TOKEN
            yield service

    @pytest.mark.django_db(transaction=True)
    def test_tokens_never_appear_in_logs_output_or_responses(self, fake, caplog, auth_client, api_user):
        caplog.set_level(logging.DEBUG)  # everything, urllib3's request lines included
        logging.getLogger("urllib3").setLevel(logging.DEBUG)
        out = StringIO()
        try:
            # Registration from the web process, sync cycles from the worker, a refused access
            # token, and every kind of failure: each path that might mention a credential.
            product_ids = [
                auth_client.post("/products", {"name": f"p{i}"}, format="json").json()["id"] for i in range(3)
            ]
            call_command("run_sync", "--once", stdout=out)
            access_tokens = {AccessToken.objects.get().token}
            fake.expire_token()
            call_command("run_sync", "--once", stdout=out)
            access_tokens.add(AccessToken.objects.get().token)
            for faults in ({"error_rate": 1.0}, {"malformed_rate": 1.0}, {"rate_limit_rate": 1.0}):
                fake.set_faults(**faults)
                call_command("run_sync", "--once", stdout=out)
            fake.set_faults(error_rate=0.0, malformed_rate=0.0, rate_limit_rate=0.0)
        finally:
            logging.getLogger("urllib3").setLevel(logging.WARNING)
        assert len(access_tokens) == 2 and all(access_tokens)

        secrets = {REFRESH_TOKEN, *access_tokens}
        # The access token's payload holds the refresh token; base64 of it must not leak either.
        secrets.add(base64.urlsafe_b64encode(REFRESH_TOKEN.encode()).decode().rstrip("="))
        ours = [record for record in caplog.records if not record.name.startswith("devtools.fake_service")]
        assert any("new access token" in record.getMessage() for record in ours)
        log_text = "\n".join(f"{record.getMessage()} {record.exc_text or ''}" for record in ours)

        client = Client()
        admin = Client()
        admin.force_login(type(api_user).objects.create_superuser("boss", "boss@example.com", "pw-long-enough-1"))
        pages = [
            client.get("/products"),
            client.get("/health"),
            client.get("/schema"),
            *(client.get(f"/products/{pid}") for pid in product_ids),
            *(client.get(f"/products/{pid}/offers") for pid in product_ids),
            *(admin.get(f"/admin/catalogue/product/{pid}/change/") for pid in product_ids),
            admin.get("/admin/offers_sync/syncstatus/"),
            admin.get("/admin/catalogue/product/"),
        ]
        stored_errors = " ".join(ProductSyncState.objects.values_list("last_sync_error", flat=True))
        for secret in secrets:
            assert secret not in log_text
            assert secret not in out.getvalue()
            assert secret not in stored_errors
            for page in pages:
                assert page.status_code == 200
                assert secret.encode() not in page.content

    def test_the_stored_token_is_not_shown_by_its_string_form(self):
        row = AccessToken(token="secret-access-token")
        assert "secret-access-token" not in str(row) + repr(row)


class TestNoInternalsShown:
    SECRETS = ("db.internal.example", "password=hunter2", "Traceback", 'File "/')

    def test_health_says_only_status_database_and_last_sync(self, api_client):
        response = api_client.get("/health")
        assert set(response.json()) == {"status", "database", "last_sync"}
        for header in ("Server", "X-Powered-By"):
            assert header not in response.headers

    def test_health_during_an_outage_names_no_host_or_reason(self, api_client):
        error = OperationalError('connection to server at "db.internal.example" failed: password=hunter2')
        with mock.patch("aggregator.health.last_sync_finished_at", side_effect=error):
            response = api_client.get("/health")
        assert response.status_code == 503
        for secret in self.SECRETS:
            assert secret.encode() not in response.content

    @pytest.mark.parametrize(
        "error",
        [
            OperationalError('could not connect to "db.internal.example": password=hunter2'),
            RuntimeError("unexpected at db.internal.example password=hunter2"),
            KeyError("password=hunter2"),
        ],
    )
    def test_errors_name_no_host_query_or_traceback(self, error):
        client = Client(raise_request_exception=False)
        with mock.patch("api.products.product_list", side_effect=error):
            response = client.get("/products")
        assert response.status_code in {500, 503}
        assert set(json.loads(response.content)) == {"detail"}
        for secret in self.SECRETS:
            assert secret.encode() not in response.content

    def test_the_admin_during_an_outage_is_a_json_503(self, admin_client):
        error = OperationalError('connection to server at "db.internal.example" failed')
        with mock.patch("django.contrib.admin.sites.AdminSite.get_app_list", side_effect=error):
            response = admin_client.get("/admin/")
        assert response.status_code == 503
        assert response["Retry-After"] == "5"
        assert json.loads(response.content) == {"detail": "The database is unavailable; try again shortly."}

    def test_debug_is_off(self, settings):
        assert settings.DEBUG is False

    def test_a_malformed_body_error_does_not_echo_much(self, auth_client):
        response = auth_client.post("/products", '{"name": "' + "A" * 5000, content_type="application/json")
        assert response.status_code == 400
        assert len(response.content) < 500
