"""Cross-cutting behaviour: health, JSON errors, schema and docs, admin, configuration, migrations."""

import subprocess
import sys
from io import StringIO
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import OperationalError
from django.utils import timezone

from aggregator.config import ConfigError, read_database
from catalogue.tests.factories import ProductFactory
from offers_sync.models import SyncStatus
from offers_sync.tests.factories import OfferFactory

pytestmark = pytest.mark.django_db


class TestHealth:
    def test_healthy_with_no_sync_yet(self, api_client):
        response = api_client.get("/health")
        assert response.status_code == 200
        assert response.json() == {"status": "healthy", "database": "connected", "last_sync": None}

    def test_reports_last_completed_cycle(self, api_client):
        finished = timezone.now()
        SyncStatus.objects.update_or_create(pk=SyncStatus.SINGLETON_ID, defaults={"last_cycle_finished_at": finished})
        body = api_client.get("/health").json()
        assert body["last_sync"].replace("Z", "+00:00") == finished.isoformat()

    def test_database_down_is_503_without_internals(self, api_client):
        with mock.patch(
            "aggregator.health.last_sync_finished_at",
            side_effect=OperationalError('connection to server at "db" failed: password=secret'),
        ):
            response = api_client.get("/health")
        assert response.status_code == 503
        assert response.json() == {"status": "unhealthy", "database": "disconnected", "last_sync": None}
        assert b"secret" not in response.content


class TestErrors:
    def test_unknown_path_is_json_404(self, api_client):
        response = api_client.get("/no/such/thing")
        assert response.status_code == 404
        assert response.json() == {"detail": "Not found."}

    def test_trailing_slash_is_not_a_route(self, api_client):
        assert api_client.get("/products/").status_code == 404

    def test_database_outage_during_api_call_is_json_503(self, api_client):
        outage = OperationalError("server closed the connection")
        with mock.patch("api.products.product_list", side_effect=outage):
            response = api_client.get("/products")
        assert response.status_code == 503
        assert response.json() == {"detail": "The database is unavailable; try again shortly."}
        assert response.headers["Retry-After"] == "5"

    def test_unexpected_error_is_json_500_without_traceback(self, client):
        from django.test import Client

        client = Client(raise_request_exception=False)
        with mock.patch("api.products.product_list", side_effect=RuntimeError("internal detail")):
            response = client.get("/products")
        assert response.status_code == 500
        assert response.json() == {"detail": "Internal server error."}
        assert b"internal detail" not in response.content


class TestDocs:
    def test_schema_json_describes_every_endpoint(self, api_client):
        response = api_client.get("/schema?format=json")
        assert response.status_code == 200
        paths = response.json()["paths"]
        assert set(paths) >= {"/products", "/products/{product_id}", "/products/{product_id}/offers", "/health"}
        assert "401" in paths["/products"]["post"]["responses"]
        assert "tokenAuth" in response.json()["components"]["securitySchemes"]

    def test_schema_yaml(self, api_client):
        response = api_client.get("/schema")
        assert response.status_code == 200
        assert response.content.startswith(b"openapi: 3")

    def test_swagger_ui_is_served_without_a_cdn(self, api_client):
        response = api_client.get("/docs")
        assert response.status_code == 200
        html = response.content.decode()
        assert "swagger-ui" in html
        assert "cdn" not in html.lower()
        assert "/static/drf_spectacular_sidecar/" in html


class TestAdmin:
    def test_admin_lists_and_searches_products(self, admin_client):

        ProductFactory(name="Findable kettle")
        ProductFactory(name="Other")
        response = admin_client.get("/admin/catalogue/product/?q=kettle")
        assert response.status_code == 200
        assert b"Findable kettle" in response.content
        assert b"Other" not in response.content

    def test_product_page_shows_offers_read_only(self, admin_client):

        product = ProductFactory(name="Mug")
        OfferFactory(product=product, price=12345, items_in_stock=3)
        response = admin_client.get(f"/admin/catalogue/product/{product.id}/change/")
        assert response.status_code == 200
        assert b"12345" in response.content
        assert admin_client.get("/admin/offers_sync/offer/add/").status_code == 403

    def test_admin_needs_staff(self, client, django_user_model):
        django_user_model.objects.create_user(username="plain", password="pw-12345-long")
        client.login(username="plain", password="pw-12345-long")
        response = client.get("/admin/catalogue/product/")
        assert response.status_code == 302
        assert "/admin/login/" in response.headers["Location"]


class TestConfiguration:
    @pytest.mark.parametrize(
        "url",
        [
            "postgres://u:p@db:5432/app",
            "postgresql://u:p@db:5432/app",
            "postgresql+asyncpg://u:p@db:5432/app",
        ],
    )
    def test_postgres_url_forms_are_normalised(self, url, monkeypatch):
        monkeypatch.setenv("DATABASE_URL", url)
        config = read_database("DATABASE_URL", "sqlite:///x")
        assert config["ENGINE"] == "django.db.backends.postgresql"
        assert (config["HOST"], config["NAME"], config["USER"]) == ("db", "app", "u")

    def test_bad_database_url_names_the_variable(self, monkeypatch):
        monkeypatch.setenv("DATABASE_URL", "mongodb://nowhere")
        with pytest.raises(ConfigError, match="DATABASE_URL"):
            read_database("DATABASE_URL", "sqlite:///x")

    @pytest.mark.parametrize(
        ("env", "message"),
        [
            ({"SECRET_KEY": "", "DEBUG": "false"}, "SECRET_KEY must be set"),
            ({"SECRET_KEY": "k", "DEBUG": "maybe"}, "DEBUG must be true or false"),
            ({"SECRET_KEY": "k", "SYNC_CONCURRENCY": "lots"}, "SYNC_CONCURRENCY must be a whole number"),
            ({"SECRET_KEY": "k", "LOG_LEVEL": "chatty"}, "LOG_LEVEL must be one of"),
        ],
    )
    def test_bad_settings_stop_start_up_with_one_line(self, env, message, tmp_path):
        base = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "aggregator.settings", "CURRENCY": "EUR"}
        result = subprocess.run(
            [sys.executable, "manage.py", "check"],
            env={**base, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1
        assert result.stderr.strip().splitlines() == [f"configuration error: {result.stderr.split(': ', 1)[1].strip()}"]
        assert message in result.stderr
        assert "Traceback" not in result.stderr


def test_no_missing_migrations():
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)


@pytest.mark.django_db
def test_admin_deletes_a_product_with_its_offers(admin_client):

    from catalogue.models import Product
    from offers_sync.models import Offer

    product = ProductFactory(name="Mug")
    OfferFactory(product=product, price=5, items_in_stock=1)
    confirm = admin_client.get(f"/admin/catalogue/product/{product.id}/delete/")
    assert confirm.status_code == 200
    assert b"Are you sure" in confirm.content
    response = admin_client.post(f"/admin/catalogue/product/{product.id}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Product.objects.filter(pk=product.id).exists()
    assert Offer.objects.count() == 0
