"""Every endpoint's real answers match the OpenAPI schema the service publishes for them.

The schema is generated as GET /schema serves it; each case sends a request and validates the body
against the schema of that path, method and status, with `$ref`s inlined and OpenAPI's `nullable`
turned into JSON Schema. An object whose properties are all required is closed (no other keys), so
a key added to an answer and not to its schema fails here, as does one the schema names and the
answer lacks. Every operation of the schema must have a case: an endpoint added later without one
fails `test_every_operation_has_a_case`.
"""

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.db import DatabaseError
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from jsonschema import Draft202012Validator, FormatChecker

from aggregator.tests.factories import UserFactory
from alerts.models import DeliveryStatus
from alerts.services import alert_create, endpoint_create, endpoint_ping
from catalogue.models import Product
from offers_sync.client import OfferData
from offers_sync.models import Offer, ProductSyncState, SyncStatus
from price_history.tests.factories import record_events

pytestmark = pytest.mark.django_db

MISSING = "00000000-0000-0000-0000-00000000dead"

# Documented statuses no case here produces, and why. Every other documented status has a case.
NOT_EXERCISED = {
    "304": "no body to validate (aggregator/tests/test_conditional_get.py covers it)",
    "409": "needs a concurrent request with the same Idempotency-Key (idempotency's own tests) or a per-user "
    "limit reached (alerts/tests/test_limits.py); a disabled endpoint's ping has a case",
    "429": "needs throttling on and its budget spent (aggregator/tests/test_throttling.py)",
    "503": "needs the database down; only /health's 503 is produced here (by a failing read)",
}
# Documented (by the shared error responses) though the endpoint has no way to answer them.
CANNOT_ANSWER = {
    ("GET", "/products", "404"): "a list has no product to miss; a bad cursor is a 400",
    ("POST", "/products", "404"): "a create has no product to miss",
    ("GET", "/products/{product_id}", "400"): "it reads no query parameter or body",
    ("DELETE", "/products/{product_id}", "400"): "it reads no body",
    ("DELETE", "/products/{product_id}", "413"): "it reads no body",
    ("DELETE", "/products/{product_id}", "415"): "it reads no body",
    ("GET", "/webhooks", "404"): "a list has no endpoint to miss; a bad cursor is a 400",
    ("POST", "/webhooks", "404"): "a create has no endpoint to miss",
    ("GET", "/webhooks/{webhook_id}", "400"): "it reads no query parameter or body",
    ("DELETE", "/webhooks/{webhook_id}", "400"): "it reads no body",
    ("DELETE", "/webhooks/{webhook_id}", "413"): "it reads no body",
    ("DELETE", "/webhooks/{webhook_id}", "415"): "it reads no body",
    ("POST", "/webhooks/{webhook_id}/ping", "400"): "it reads no body",
    ("POST", "/webhooks/{webhook_id}/ping", "413"): "it reads no body",
    ("POST", "/webhooks/{webhook_id}/ping", "415"): "it reads no body",
    ("GET", "/alerts", "404"): "a list has no alert to miss; an unknown product_id filters to an empty page",
    ("GET", "/alerts/{alert_id}", "400"): "it reads no query parameter or body",
    ("DELETE", "/alerts/{alert_id}", "400"): "it reads no body",
    ("DELETE", "/alerts/{alert_id}", "413"): "it reads no body",
    ("DELETE", "/alerts/{alert_id}", "415"): "it reads no body",
}


@dataclass(frozen=True)
class Case:
    method: str
    path: str  # the schema's path template
    status: int
    name: str
    # {id} is the seeded product's id, {bare} the never-synced one's, {webhook_id} and {alert_id} the
    # user's seeded endpoint and alert, {every_alert} the user's every-product alert, {other_webhook}
    # and {other_alert} another user's; default: the path with them. The same names in a body's
    # strings are filled in too.
    url: str = ""
    body: object = None
    headers: dict = field(default_factory=dict)
    auth: bool = False
    # With the token of a user who holds no permissions (auth is then ignored).
    plain: bool = False
    raw: bytes | None = None
    content_type: str = "application/json"

    @property
    def id(self) -> str:
        return f"{self.method} {self.path} {self.status} {self.name}"


P = "/products/{product_id}"
CASES = [
    Case("GET", "/health", 200, "healthy"),
    Case("GET", "/health", 503, "database down"),
    Case("GET", "/products", 200, "a page", url="/products?limit=2"),
    Case("GET", "/products", 200, "search", url="/products?search=kettle"),
    Case("GET", "/products", 400, "bad limit", url="/products?limit=zero"),
    Case("GET", "/products", 400, "search too long", url="/products?search=" + "x" * 300),
    Case("GET", "/products", 400, "bad cursor", url="/products?cursor=nonsense"),
    Case("POST", "/products", 201, "created", body={"name": "New", "description": "d"}, auth=True),
    Case("POST", "/products", 400, "no name", body={"description": "d"}, auth=True),
    Case("POST", "/products", 400, "malformed JSON", raw=b"{", auth=True),
    Case("POST", "/products", 401, "no token", body={"name": "New"}),
    Case("POST", "/products", 403, "no permission", body={"name": "New"}, plain=True),
    Case("POST", "/products", 413, "body too large", raw=b'"' + b"x" * (1 << 20) + b'"', auth=True),
    Case("POST", "/products", 415, "not JSON", raw=b"name=x", content_type="text/plain", auth=True),
    Case(
        "POST",
        "/products",
        422,
        "key reused with another body",
        body={"name": "Other"},
        headers={"HTTP_IDEMPOTENCY_KEY": "used-key"},
        auth=True,
    ),
    Case("GET", P, 200, "found"),
    Case("GET", P, 200, "never synced", url="/products/{bare}"),
    Case("GET", P, 404, "missing", url=f"/products/{MISSING}"),
    Case("GET", P, 404, "not a uuid", url="/products/nope"),
    Case("PUT", P, 200, "replaced", body={"name": "Renamed"}, auth=True),
    Case("PUT", P, 400, "bad name", body={"name": ""}, auth=True),
    Case("PUT", P, 401, "no token", body={"name": "Renamed"}),
    Case("PUT", P, 403, "no permission", body={"name": "Renamed"}, plain=True),
    Case("PUT", P, 404, "missing", url=f"/products/{MISSING}", body={"name": "x"}, auth=True),
    Case("PUT", P, 415, "not JSON", raw=b"x", content_type="text/plain", auth=True),
    Case("PATCH", P, 200, "updated", body={"description": None}, auth=True),
    Case("PATCH", P, 400, "bad type", body={"name": 3}, auth=True),
    Case("PATCH", P, 401, "no token", body={"name": "x"}),
    Case("PATCH", P, 403, "no permission", body={"name": "x"}, plain=True),
    Case("PATCH", P, 404, "missing", url=f"/products/{MISSING}", body={"name": "x"}, auth=True),
    Case("PUT", P, 413, "body too large", raw=b'"' + b"x" * (1 << 20) + b'"', auth=True),
    Case("PATCH", P, 415, "not JSON", raw=b"x", content_type="text/plain", auth=True),
    Case("PATCH", P, 413, "body too large", raw=b'"' + b"x" * (1 << 20) + b'"', auth=True),
    Case("DELETE", P, 204, "deleted", auth=True),
    Case("DELETE", P, 401, "no token"),
    Case("DELETE", P, 403, "no permission", plain=True),
    Case("DELETE", P, 404, "missing", url=f"/products/{MISSING}", auth=True),
    Case("POST", "/products/bulk", 201, "created", body=[{"name": "A"}, {"name": "B", "description": None}], auth=True),
    Case("POST", "/products/bulk", 400, "bad items", body=[{"name": "A"}, {"name": ""}, None], auth=True),
    Case("POST", "/products/bulk", 400, "not an array", body={"name": "A"}, auth=True),
    Case("POST", "/products/bulk", 401, "no token", body=[{"name": "A"}]),
    Case("POST", "/products/bulk", 403, "no permission", body=[{"name": "A"}], plain=True),
    Case("POST", "/products/bulk", 413, "body too large", raw=b'"' + b"x" * (1 << 20) + b'"', auth=True),
    Case(
        "POST",
        "/products/bulk",
        422,
        "key reused with another request",
        body=[{"name": "A"}],
        headers={"HTTP_IDEMPOTENCY_KEY": "used-key"},
        auth=True,
    ),
    Case("POST", "/products/bulk", 415, "not JSON", raw=b"x", content_type="text/plain", auth=True),
    Case("GET", P + "/offers", 200, "offers"),
    Case("GET", P + "/offers", 200, "filtered", url="/products/{id}/offers?min_price=100&in_stock=true"),
    Case("GET", P + "/offers", 200, "none", url="/products/{bare}/offers"),
    Case("GET", P + "/offers", 400, "bad filter", url="/products/{id}/offers?min_price=-1"),
    Case("GET", P + "/offers", 404, "missing", url=f"/products/{MISSING}/offers"),
    Case("GET", P + "/offers/history", 200, "events", url="/products/{id}/offers/history?limit=2"),
    Case("GET", P + "/offers/history", 400, "bad since", url="/products/{id}/offers/history?since=soon"),
    Case("GET", P + "/offers/history", 404, "missing", url=f"/products/{MISSING}/offers/history"),
    Case("GET", P + "/price-trend", 200, "changes", url="/products/{id}/price-trend?since=2025-03-01"),
    Case(
        "GET",
        P + "/price-trend",
        200,
        "hourly",
        url="/products/{id}/price-trend?since=2025-03-01&until=2025-03-02&interval=hour",
    ),
    Case("GET", P + "/price-trend", 200, "no history", url="/products/{bare}/price-trend"),
    Case("GET", P + "/price-trend", 400, "bad interval", url="/products/{id}/price-trend?interval=week"),
    Case("GET", P + "/price-trend", 404, "missing", url=f"/products/{MISSING}/price-trend"),
    Case("GET", "/offers/changes", 200, "feed", url="/offers/changes?limit=2"),
    Case("GET", "/offers/changes", 400, "since past the history", url="/offers/changes?since=2000-01-01"),
    Case("GET", "/offers/changes", 400, "since in the future", url="/offers/changes?since=9000-01-01"),
    Case("GET", "/offers/changes", 400, "blank since", url="/offers/changes?since="),
]

HOOK = "http://127.0.0.1:9/hook"
W = "/webhooks/{webhook_id}"
A = "/alerts/{alert_id}"
TOO_LARGE = b'"' + b"x" * (1 << 20) + b'"'
CASES += [
    Case("GET", "/webhooks", 200, "all", auth=True),
    Case("GET", "/webhooks", 200, "a page", url="/webhooks?limit=1", auth=True),
    Case("GET", "/webhooks", 400, "bad limit", url="/webhooks?limit=zero", auth=True),
    Case("GET", "/webhooks", 400, "bad cursor", url="/webhooks?cursor=nonsense", auth=True),
    Case("GET", "/webhooks", 401, "no token"),
    Case("POST", "/webhooks", 201, "created", body={"url": HOOK, "description": "Shop"}, auth=True),
    Case("POST", "/webhooks", 201, "no description", body={"url": "https://127.0.0.1/hook"}, auth=True),
    Case("POST", "/webhooks", 400, "not http", body={"url": "ftp://127.0.0.1/hook"}, auth=True),
    Case("POST", "/webhooks", 400, "no url", body={"description": "d"}, auth=True),
    Case("POST", "/webhooks", 400, "malformed JSON", raw=b"{", auth=True),
    Case("POST", "/webhooks", 401, "no token", body={"url": HOOK}),
    Case("POST", "/webhooks", 413, "body too large", raw=TOO_LARGE, auth=True),
    Case("POST", "/webhooks", 415, "not JSON", raw=b"url=x", content_type="text/plain", auth=True),
    Case("GET", W, 200, "found", auth=True),
    Case("GET", W, 200, "failing", url="/webhooks/{failing_webhook}", auth=True),
    Case("GET", W, 401, "no token"),
    Case("GET", W, 404, "missing", url=f"/webhooks/{MISSING}", auth=True),
    Case("GET", W, 404, "not a uuid", url="/webhooks/nope", auth=True),
    Case("GET", W, 404, "another user's", url="/webhooks/{other_webhook}", auth=True),
    Case("PATCH", W, 200, "disabled", body={"is_active": False}, auth=True),
    Case("PATCH", W, 200, "moved", body={"url": HOOK + "/2", "description": None}, auth=True),
    Case("PATCH", W, 400, "not a boolean", body={"is_active": "yes"}, auth=True),
    Case("PATCH", W, 400, "bad url", body={"url": "http://127.0.0.1/a b"}, auth=True),
    Case("PATCH", W, 401, "no token", body={"is_active": True}),
    Case("PATCH", W, 404, "another user's", url="/webhooks/{other_webhook}", body={"is_active": True}, auth=True),
    Case("PATCH", W, 413, "body too large", raw=TOO_LARGE, auth=True),
    Case("PATCH", W, 415, "not JSON", raw=b"x", content_type="text/plain", auth=True),
    Case("DELETE", W, 204, "deleted", auth=True),
    Case("DELETE", W, 401, "no token"),
    Case("DELETE", W, 404, "another user's", url="/webhooks/{other_webhook}", auth=True),
    Case("POST", W + "/ping", 202, "queued", auth=True),
    Case("POST", W + "/ping", 401, "no token"),
    Case("POST", W + "/ping", 409, "disabled", url="/webhooks/{failing_webhook}/ping", auth=True),
    Case("POST", W + "/ping", 404, "another user's", url="/webhooks/{other_webhook}/ping", auth=True),
    Case("POST", W + "/ping", 404, "missing", url=f"/webhooks/{MISSING}/ping", auth=True),
    Case("GET", W + "/deliveries", 200, "deliveries", auth=True),
    Case("GET", W + "/deliveries", 200, "a page", url="/webhooks/{webhook_id}/deliveries?limit=1", auth=True),
    Case("GET", W + "/deliveries", 400, "bad limit", url="/webhooks/{webhook_id}/deliveries?limit=-1", auth=True),
    Case("GET", W + "/deliveries", 401, "no token"),
    Case("GET", W + "/deliveries", 404, "another user's", url="/webhooks/{other_webhook}/deliveries", auth=True),
    Case("GET", "/alerts", 200, "all", auth=True),
    Case("GET", "/alerts", 200, "one product's", url="/alerts?product_id={id}", auth=True),
    Case("GET", "/alerts", 200, "a page", url="/alerts?limit=1", auth=True),
    Case("GET", "/alerts", 400, "bad product_id", url="/alerts?product_id=nope", auth=True),
    Case("GET", "/alerts", 400, "bad limit", url="/alerts?limit=0", auth=True),
    Case("GET", "/alerts", 401, "no token"),
    Case(
        "POST",
        "/alerts",
        201,
        "price_below",
        body={"webhook_id": "{webhook_id}", "product_id": "{id}", "kind": "price_below", "threshold": 95},
        auth=True,
    ),
    Case(
        "POST",
        "/alerts",
        201,
        "every product back in stock",
        body={"webhook_id": "{webhook_id}", "product_id": None, "kind": "back_in_stock"},
        auth=True,
    ),
    Case(
        "POST",
        "/alerts",
        400,
        "percent out of range",
        body={"webhook_id": "{webhook_id}", "product_id": "{id}", "kind": "price_drop", "threshold": 100},
        auth=True,
    ),
    Case("POST", "/alerts", 400, "unknown kind", body={"webhook_id": "{webhook_id}", "kind": "cheap"}, auth=True),
    Case("POST", "/alerts", 400, "malformed JSON", raw=b"{", auth=True),
    Case("POST", "/alerts", 401, "no token", body={"webhook_id": MISSING, "product_id": None, "kind": "out_of_stock"}),
    Case(
        "POST",
        "/alerts",
        404,
        "another user's endpoint",
        body={"webhook_id": "{other_webhook}", "product_id": None, "kind": "out_of_stock"},
        auth=True,
    ),
    Case(
        "POST",
        "/alerts",
        404,
        "missing product",
        body={"webhook_id": "{webhook_id}", "product_id": MISSING, "kind": "out_of_stock"},
        auth=True,
    ),
    Case("POST", "/alerts", 413, "body too large", raw=TOO_LARGE, auth=True),
    Case("POST", "/alerts", 415, "not JSON", raw=b"kind=x", content_type="text/plain", auth=True),
    Case("GET", A, 200, "found", auth=True),
    Case("GET", A, 200, "every product", url="/alerts/{every_alert}", auth=True),
    Case("GET", A, 401, "no token"),
    Case("GET", A, 404, "missing", url=f"/alerts/{MISSING}", auth=True),
    Case("GET", A, 404, "another user's", url="/alerts/{other_alert}", auth=True),
    Case("DELETE", A, 204, "deleted", auth=True),
    Case("DELETE", A, 401, "no token"),
    Case("DELETE", A, 404, "another user's", url="/alerts/{other_alert}", auth=True),
]


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        return json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True)))


@dataclass(frozen=True)
class Seeded:
    product: Product
    bare: Product  # never synced, no offers, no history
    ids: dict  # what a case's url and body strings name, as strings (see Case.url)


@pytest.fixture
def seeded(auth_client, api_user) -> Seeded:
    product = Product.objects.create(name="Kettle", description="Steel")
    bare = Product.objects.create(name="Kettle, bare")
    ProductSyncState.objects.filter(product=product).update(
        registered_at=timezone.now(), offers_synced_at=timezone.now()
    )
    SyncStatus.objects.update_or_create(pk=SyncStatus.SINGLETON_ID, defaults={"last_cycle_finished_at": timezone.now()})
    offers = [uuid.UUID(f"0885aab1-4da3-54c2-f626-{n:012x}") for n in range(1, 4)]
    for n, offer_id in enumerate(offers):
        Offer.objects.create(id=offer_id, product=product, price=100 * (n + 1), items_in_stock=n)
    t0 = datetime(2025, 3, 1, 9, tzinfo=UTC)
    seen = [OfferData(offer_id, 100 * (n + 1), n) for n, offer_id in enumerate(offers)]
    record_events(product.id, t0, appeared=seen)
    record_events(product.id, t0 + timedelta(hours=3), changed=[OfferData(offers[0], 90, 5)], vanished=[seen[2]])
    # The first use of the key the 422 case reuses with another body.
    assert (
        auth_client.post("/products", {"name": "First"}, format="json", HTTP_IDEMPOTENCY_KEY="used-key").status_code
        == 201
    )
    endpoint = endpoint_create(owner=api_user, url=HOOK, description="Shop")
    failing = endpoint_create(owner=api_user, url=HOOK + "/failing")
    failing.is_active, failing.failing_since = False, timezone.now() - timedelta(hours=30)
    failing.save()
    # Fires at once (the best price in stock is 200), so the endpoint has an alert.triggered delivery.
    alert = alert_create(owner=api_user, endpoint=endpoint, product=product, kind="price_below", threshold=250)
    every = alert_create(owner=api_user, endpoint=endpoint, product=None, kind="price_drop", threshold=10)
    delivered, failed = endpoint_ping(endpoint=endpoint), endpoint_ping(endpoint=endpoint)
    delivered.status, delivered.attempts, delivered.last_status_code = DeliveryStatus.DELIVERED, 1, 204
    delivered.delivered_at, delivered.next_attempt_at = timezone.now(), None
    delivered.save()
    failed.status, failed.attempts, failed.last_status_code = DeliveryStatus.FAILED, 8, 500
    failed.last_error, failed.next_attempt_at = "HTTP 500", None
    failed.save()
    assert endpoint.deliveries.count() == 3
    other_user = UserFactory(username="other-user")
    other_endpoint = endpoint_create(owner=other_user, url=HOOK)
    other_alert = alert_create(
        owner=other_user, endpoint=other_endpoint, product=None, kind="out_of_stock", threshold=None
    )
    ids = {
        "id": product.id,
        "bare": bare.id,
        "webhook_id": endpoint.id,
        "failing_webhook": failing.id,
        "alert_id": alert.id,
        "every_alert": every.id,
        "other_webhook": other_endpoint.id,
        "other_alert": other_alert.id,
    }
    return Seeded(product=product, bare=bare, ids={name: str(value) for name, value in ids.items()})


def _filled(body, ids: dict):
    """The body with the seeded ids its strings name filled in."""
    if isinstance(body, str):
        return body.format(**ids)
    if isinstance(body, list):
        return [_filled(item, ids) for item in body]
    if isinstance(body, dict):
        return {key: _filled(value, ids) for key, value in body.items()}
    return body


def test_every_operation_has_a_case(schema):
    operations = {(method.upper(), path) for path, item in schema["paths"].items() for method in item}
    covered = {(case.method, case.path) for case in CASES}
    assert operations - covered == set(), "operations without a case: add one (or an exemption with a reason)"
    assert covered - operations == set(), "cases for operations the schema does not have"


def test_every_documented_status_has_a_case(schema):
    produced = {(case.method, case.path, str(case.status)) for case in CASES}
    missing = [
        f"{method.upper()} {path} {status}"
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        for status in operation["responses"]
        if status not in NOT_EXERCISED
        and (method.upper(), path, status) not in produced
        and (method.upper(), path, status) not in CANNOT_ANSWER
    ]
    assert missing == [], missing


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_the_answer_matches_the_schema(case, schema, seeded, api_client, auth_client, plain_client):
    client = plain_client if case.plain else auth_client if case.auth else api_client
    url = (case.url or case.path.replace("{product_id}", "{id}")).format(**seeded.ids)
    if case.raw is not None:
        content, content_type = case.raw, case.content_type
    else:
        body = b"" if case.body is None else json.dumps(_filled(case.body, seeded.ids)).encode()
        content, content_type = body, "application/json"
    send = getattr(client, case.method.lower())
    if case.status == 503:
        with mock.patch("aggregator.health.last_sync_finished_at", side_effect=DatabaseError("down")):
            response = send(url, content, content_type=content_type, **case.headers)
    else:
        response = send(url, content, content_type=content_type, **case.headers)

    assert response.status_code == case.status, response.content[:500]
    responses = schema["paths"][case.path][case.method.lower()]["responses"]
    assert str(case.status) in responses, f"{case.status} is not documented for {case.method} {case.path}"
    documented = responses[str(case.status)]
    if "content" not in documented:
        assert response.content == b""
        return
    assert response["Content-Type"] == "application/json"
    body_schema = _json_schema(documented["content"]["application/json"]["schema"], schema)
    errors = sorted(
        Draft202012Validator(body_schema, format_checker=FormatChecker()).iter_errors(response.json()), key=str
    )
    assert errors == [], "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_a_closed_object_rejects_a_key_the_schema_does_not_name(schema):
    """The check above would catch an answer that grew a key without its schema."""
    product_schema = _json_schema({"$ref": "#/components/schemas/ProductOutput"}, schema)
    validator = Draft202012Validator(product_schema)
    answer = {
        "id": str(uuid.uuid4()),
        "name": "x",
        "description": None,
        "created_at": "2025-03-01T00:00:00Z",
        "updated_at": "2025-03-01T00:00:00Z",
        "registered": False,
        "offers_synced_at": None,
    }
    assert validator.is_valid(answer)
    assert not validator.is_valid({**answer, "price": 3})
    assert not validator.is_valid({k: v for k, v in answer.items() if k != "registered"})


def _json_schema(node, document):
    """An OpenAPI 3.0 schema object as plain JSON Schema: refs inlined, nullable as a null type, fixed shapes closed."""
    if isinstance(node, list):
        return [_json_schema(item, document) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return _json_schema(target, document)
    converted = {key: _json_schema(value, document) for key, value in node.items() if key != "nullable"}
    properties = converted.get("properties")
    if properties and "additionalProperties" not in converted and set(converted.get("required", ())) == set(properties):
        converted["additionalProperties"] = False
    if node.get("nullable"):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted
