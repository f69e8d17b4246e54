"""A Python client generated from the live /schema works against the live service.

API consumers generate clients from the OpenAPI schema (openapi-python-client, as here). The test
fetches /schema from a running gunicorn, generates a client package into a temporary directory,
imports it and drives the main paths with it: create, list page by page, get, patch, offers,
history, trend, alerts, and the errors a consumer must be able to read. A schema change that breaks
generated clients (an answer that no longer parses, an operation that disappears) fails here.
"""

import importlib
import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from devtools.fake_service import FakeOffersService
from tests.system.live import current_database_url, free_port, manage, service_env, start_web

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

REFRESH_TOKEN = "generated-client-refresh-token"
PACKAGE = "aggregator_api_client"
GENERATOR = Path(sys.executable).parent / "openapi-python-client"


def generate_client(schema: bytes, directory: Path):
    """The generated package, imported."""
    (directory / "schema.json").write_bytes(schema)
    env = {**os.environ, "PATH": f"{GENERATOR.parent}{os.pathsep}{os.environ.get('PATH', '')}"}  # its ruff hooks
    result = subprocess.run(
        [str(GENERATOR), "generate", "--path", "schema.json", "--output-path", PACKAGE, "--meta", "none"],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Parts of the schema the generator cannot express are skipped with a warning: none may be.
    assert "warning" not in (result.stdout + result.stderr).lower(), result.stdout + result.stderr
    return importlib.import_module(PACKAGE)


def next_cursor(response) -> str | None:
    """The cursor of the `Link: <…>; rel="next"` header, as a consumer reads it."""
    link = response.headers.get("link")
    if not link:
        return None
    links = requests.utils.parse_header_links(link)
    (url,) = [entry["url"] for entry in links if entry.get("rel") == "next"]
    return parse_qs(urlsplit(url).query)["cursor"][0]


def test_a_client_generated_from_the_schema_drives_the_main_paths(tmp_path, monkeypatch):
    # A superuser's token: writes need one, whatever permissions the catalogue asks of other users.
    user = get_user_model().objects.create_superuser("client-generator", "client@example.com", "pw")
    token = Token.objects.create(user=user).key
    port = free_port()
    with FakeOffersService(refresh_token=REFRESH_TOKEN, latency_ms=0, jitter_ms=0, churn_interval=0, seed=3) as fake:
        env = service_env(
            current_database_url(),
            fake.url,
            REFRESH_TOKEN,
            ALLOWED_HOSTS="127.0.0.1",
            WEBHOOK_ALLOW_PRIVATE_NETWORKS="true",
            THROTTLE_ANON_READ_RATE="off",
            TMPDIR=str(tmp_path),
        )
        web = start_web(env, port, tmp_path, workers=1)
        try:
            base_url = f"http://127.0.0.1:{port}"
            schema = requests.get(f"{base_url}/schema", headers={"Accept": "application/json"}, timeout=30)
            assert schema.status_code == 200
            monkeypatch.syspath_prepend(str(tmp_path))
            generated = generate_client(schema.content, tmp_path)
            drive(generated, base_url, token, env)
        finally:
            web.stop()
            for name in [name for name in sys.modules if name == PACKAGE or name.startswith(PACKAGE + ".")]:
                del sys.modules[name]


def drive(generated, base_url: str, token: str, env: dict[str, str]) -> None:
    api = importlib.import_module(f"{PACKAGE}.api")
    products = {
        name: importlib.import_module(f"{PACKAGE}.api.products.{name}")
        for name in (
            "products_create",
            "products_list",
            "products_retrieve",
            "products_partial_update",
            "products_offers_list",
            "products_offers_history_list",
            "products_price_trend_retrieve",
        )
    }
    webhooks_create = importlib.import_module(f"{PACKAGE}.api.webhooks.webhooks_create")
    alerts_create = importlib.import_module(f"{PACKAGE}.api.alerts.alerts_create")
    alerts_list = importlib.import_module(f"{PACKAGE}.api.alerts.alerts_list")
    models = importlib.import_module(f"{PACKAGE}.models")
    assert api is not None

    client = generated.AuthenticatedClient(
        base_url=base_url, token=token, prefix="Token", raise_on_unexpected_status=True
    )
    anonymous = generated.Client(base_url=base_url, raise_on_unexpected_status=True)

    # Create.
    created = []
    for name in ("Kettle", "Toaster", "Blender"):
        response = products["products_create"].sync_detailed(client=client, body=models.ProductInputRequest(name=name))
        assert response.status_code == 201
        assert isinstance(response.parsed, models.ProductOutput) and response.parsed.name == name
        created.append(response.parsed)

    # List, two at a time, following the Link header's cursor.
    seen, cursor = [], None
    while True:
        page = products["products_list"].sync_detailed(
            client=anonymous, limit=2, **({"cursor": cursor} if cursor else {})
        )
        assert page.status_code == 200 and len(page.parsed) <= 2
        seen += [product.id for product in page.parsed]
        cursor = next_cursor(page)
        if cursor is None:
            break
    assert sorted(map(str, seen)) == sorted(str(product.id) for product in created)

    # Get and patch.
    kettle = created[0]
    got = products["products_retrieve"].sync(str(kettle.id), client=anonymous)
    assert got.id == kettle.id and got.registered is True
    patched = products["products_partial_update"].sync(
        str(kettle.id), client=client, body=models.PatchedProductInputRequest(description="1.7 l")
    )
    assert patched.description == "1.7 l" and patched.name == "Kettle"

    # Offers and their history, once a sync cycle has mirrored them.
    manage(env, "run_sync", "--once")
    offers = products["products_offers_list"].sync(str(kettle.id), client=anonymous)
    assert offers and all(isinstance(offer, models.OfferOutput) and offer.product_id == kettle.id for offer in offers)
    history = products["products_offers_history_list"].sync(str(kettle.id), client=anonymous)
    assert {event.offer_id for event in history} == {offer.id for offer in offers}
    trend = products["products_price_trend_retrieve"].sync(str(kettle.id), client=anonymous)
    assert isinstance(trend, models.PriceTrendOutput) and trend.product_id == kettle.id
    assert trend.end.best_price == min(offer.price for offer in offers if offer.items_in_stock > 0)

    # An alert on a webhook endpoint.
    endpoint = webhooks_create.sync(client=client, body=models.EndpointInputRequest(url="http://127.0.0.1:9/hook"))
    body = models.AlertsCreateBodyType0(
        webhook_id=endpoint.id, product_id=kettle.id, kind=models.AlertsCreateBodyType0Kind.PRICE_BELOW, threshold=100
    )
    alert = alerts_create.sync(client=client, body=body)
    assert isinstance(alert, models.AlertOutput)
    assert [listed.id for listed in alerts_list.sync(client=client)] == [alert.id]

    # Errors a consumer reads: an unknown product, a bad body, a write without a token.
    missing = products["products_retrieve"].sync_detailed(str(uuid.uuid4()), client=anonymous)
    assert missing.status_code == 404 and isinstance(missing.parsed, models.Error) and missing.parsed.detail
    invalid = products["products_create"].sync_detailed(client=client, body=models.ProductInputRequest(name=""))
    assert invalid.status_code == 400 and isinstance(invalid.parsed, models.ValidationError)
    assert invalid.parsed.additional_properties.get("name")
    no_token = products["products_create"].sync_detailed(client=anonymous, body=models.ProductInputRequest(name="x"))
    assert no_token.status_code == 401 and isinstance(no_token.parsed, models.Error)
