"""Property-based fuzz of the whole API from its own OpenAPI schema (schemathesis).

Every operation in `/schema?format=json` is called with generated inputs, valid and invalid,
once without credentials and once with a token. Each answer must be documented: no 5xx, a status
code the schema lists for that operation, a JSON body matching the documented shape, and the
documented headers. A failure here means the API or its schema is wrong; fix whichever lies
(the schema annotations live in the apis' `extend_schema`), never the check.

Bounded for CI (2 cores, the suite runs twice): a few examples per operation, no deadline.
"""

import uuid
from datetime import timedelta

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, Phase, settings
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from aggregator.pagination import KeysetLinkPagination
from catalogue.models import Product
from catalogue.tests.factories import ProductFactory
from price_history.apis import PriceEventChangesPagination

pytestmark = pytest.mark.django_db

EXAMPLES_PER_OPERATION = 25


# Read once, at collection: the schema as the running app serves it (no database needed for it).
schema = schemathesis.openapi.from_wsgi("/schema?format=json", WSGIHandler())


@pytest.fixture(autouse=True)
def in_test_transaction(db, settings):
    """Let requests through the WSGI app share the test's database transaction.

    Django closes "old" connections at the start and end of each request; inside a test's
    transaction that would drop it, so (as Django's own test client does) the fuzz turns it off.
    """
    # The fuzz is about inputs and shapes; throttling has tests of its own.
    settings.THROTTLE_RATES = {}
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def existing_product(db) -> Product:
    """Something for generated ids to hit now and then; most of them miss and must 404."""
    return ProductFactory(name="fuzz target", description="present before the fuzz")


fuzz_settings = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,  # the same cases on every run: a CI failure reproduces locally
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def with_real_cursor(case, product: Product):
    """A paging cursor is an opaque position the API hands out in its Link header, so a made-up
    one is a documented 400, not a "valid" input. Schema-valid cases get a real one instead."""
    if case.query and "cursor" in case.query and case.meta.generation.mode is GenerationMode.POSITIVE:
        if case.operation.path == "/offers/changes":
            cursor = PriceEventChangesPagination()._encode({"xact_id": 0, "id": 0})
        else:
            cursor = KeysetLinkPagination()._encode(product)
        case.query = {**case.query, "cursor": cursor}
    # The changes feed's `since` must lie within the history kept and not ahead of now: outside it,
    # a documented 400 that the schema cannot express. Schema-valid cases get a moment inside it.
    if case.query and "since" in case.query and case.meta.generation.mode is GenerationMode.POSITIVE:
        if case.operation.path == "/offers/changes":
            case.query = {**case.query, "since": (timezone.now() - timedelta(days=1)).isoformat()}
    return case


def with_fresh_idempotency_key(case):
    """An Idempotency-Key names one request: reusing it for another body is a documented 422, not
    a "valid" input, and the fuzz repeats small values. Schema-valid cases get a key of their own."""
    if case.headers and "Idempotency-Key" in case.headers and case.meta.generation.mode is GenerationMode.POSITIVE:
        case.headers = {**case.headers, "Idempotency-Key": str(uuid.uuid4())}
    return case


def call_and_validate(case, **kwargs) -> None:
    """`case.call_and_validate`, except that a 413 is not judged as accepting or refusing the data.

    Every body over 1 MiB is refused with 413 before it is read (documented on every write), and a
    bulk create's array can be that large while valid, or too long *and* that large. Schemathesis
    counts only 400-like codes as a refusal; the answer is still checked against the schema.
    """
    auth_added = kwargs.pop("auth_added", False)
    response = case.call(**kwargs)
    excluded = [negative_data_rejection, positive_data_acceptance] if response.status_code == 413 else []
    # A case made invalid by its headers may be invalid only for lacking Authorization, which the
    # authenticated test adds to every case: as sent, it is valid, so its acceptance proves nothing.
    header = case.meta.components.get(ParameterLocation.HEADER) if auth_added and case.meta else None
    if header is not None and header.mode is GenerationMode.NEGATIVE:
        excluded.append(negative_data_rejection)
    case.validate_response(response, excluded_checks=excluded, headers=kwargs.get("headers"))


@schema.parametrize()
@fuzz_settings
def test_anonymous_requests_get_documented_answers(case, existing_product):
    call_and_validate(with_real_cursor(case, existing_product))


@schema.parametrize()
@fuzz_settings
def test_authenticated_requests_get_documented_answers(case, api_user, existing_product):
    token, _ = Token.objects.get_or_create(user=api_user)
    call_and_validate(
        with_fresh_idempotency_key(with_real_cursor(case, existing_product)),
        headers={"Authorization": f"Token {token.key}"},
        auth_added=True,
    )
