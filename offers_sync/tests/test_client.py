"""The offers-service client against mocked HTTP: statuses, retries, tokens and strict parsing."""

import json
import uuid
from datetime import UTC, datetime
from unittest import mock

import pytest
import requests
import responses
from responses import matchers

from aggregator import outgoing_http
from offers_sync.client import (
    AccessTokenStillValid,
    AnswerTooLarge,
    AuthError,
    Interrupted,
    MalformedResponse,
    OfferData,
    OffersServiceClient,
    PermanentError,
    ProductNotRegistered,
    Redirected,
    RefreshTokenRejected,
    TemporaryError,
)
from offers_sync.tests.factories import StaticTokens, make_access_token

BASE = "http://offers.test"
PRODUCT = uuid.UUID("6f1b2c1e-0000-4000-8000-000000000001")
OFFERS_URL = f"{BASE}/api/v1/products/{PRODUCT}/offers"


class RecordingWait:
    def __init__(self, stop_after: int | None = None):
        self.delays: list[float] = []
        self.stop_after = stop_after

    def __call__(self, seconds: float) -> bool:
        self.delays.append(seconds)
        return self.stop_after is not None and len(self.delays) >= self.stop_after


@pytest.fixture
def wait():
    return RecordingWait()


@pytest.fixture
def client(wait):
    return OffersServiceClient(BASE, wait=wait, max_attempts=3)


@responses.activate
def test_get_offers_parses_plain_uuid_ids_and_sends_the_bearer_header(client):
    responses.get(
        OFFERS_URL,
        json=[{"id": "0885aab1-4da3-54c2-f626-acc74bab381e", "price": 1999, "items_in_stock": 0}],
        match=[matchers.header_matcher({"Bearer": "access-1"})],
    )
    offers = client.get_offers(StaticTokens("access-1"), PRODUCT)
    assert offers == [OfferData(uuid.UUID("0885aab1-4da3-54c2-f626-acc74bab381e"), 1999, 0)]


@responses.activate
def test_404_means_not_registered(client):
    responses.get(OFFERS_URL, status=404, json={"detail": "Product does not exist"})
    with pytest.raises(ProductNotRegistered):
        client.get_offers(StaticTokens(), PRODUCT)


@responses.activate
@pytest.mark.parametrize("status", [400, 403, 422])
def test_other_4xx_are_permanent_and_not_retried(client, status):
    responses.get(OFFERS_URL, status=status, json={"detail": "no"})
    with pytest.raises(PermanentError):
        client.get_offers(StaticTokens(), PRODUCT)
    assert len(responses.calls) == 1


@responses.activate
@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_retried_with_backoff_then_temporary(client, wait, status):
    responses.get(OFFERS_URL, status=status, body="<html>down</html>")
    with pytest.raises(TemporaryError):
        client.get_offers(StaticTokens(), PRODUCT)
    assert len(responses.calls) == 3
    assert len(wait.delays) == 2


@responses.activate
def test_5xx_then_success_returns_the_offers(client):
    responses.get(OFFERS_URL, status=503)
    responses.get(OFFERS_URL, json=[])
    assert client.get_offers(StaticTokens(), PRODUCT) == []
    assert len(responses.calls) == 2


@responses.activate
def test_429_honours_retry_after(client, wait):
    responses.get(OFFERS_URL, status=429, headers={"Retry-After": "3"})
    responses.get(OFFERS_URL, json=[])
    assert client.get_offers(StaticTokens(), PRODUCT) == []
    assert wait.delays == [3.0]


@responses.activate
def test_retry_after_is_capped(wait):
    client = OffersServiceClient(BASE, wait=wait, max_retry_after_seconds=10)
    responses.get(OFFERS_URL, status=429, headers={"Retry-After": "3600"})
    responses.get(OFFERS_URL, json=[])
    client.get_offers(StaticTokens(), PRODUCT)
    assert wait.delays == [10.0]


@responses.activate
def test_timeouts_and_connection_errors_are_temporary(client):
    responses.get(OFFERS_URL, body=requests.ReadTimeout("slow"))
    responses.get(OFFERS_URL, body=requests.ConnectionError("refused"))
    responses.get(OFFERS_URL, body=requests.ConnectTimeout("slow"))
    with pytest.raises(TemporaryError, match="timed out"):
        client.get_offers(StaticTokens(), PRODUCT)
    assert len(responses.calls) == 3


@responses.activate
def test_no_retry_is_started_that_would_end_past_the_callers_deadline(wait):
    client = OffersServiceClient(BASE, wait=wait, backoff_seconds=60)
    responses.get(OFFERS_URL, status=503)
    # The backoff's jitter drawn at its longest (60 s), past the caller's 5 s.
    longest = mock.patch("offers_sync.client.random.uniform", side_effect=lambda low, high: high)
    with longest, outgoing_http.deadline(5), pytest.raises(TemporaryError, match="server error"):
        client.get_offers(StaticTokens(), PRODUCT)
    assert len(responses.calls) == 1
    assert wait.delays == []


@responses.activate
def test_every_attempt_is_reported_to_the_observer(wait):
    seen = []
    client = OffersServiceClient(BASE, wait=wait, on_attempt=lambda **attempt: seen.append(attempt))
    responses.get(OFFERS_URL, body=requests.ReadTimeout("slow"))
    responses.get(OFFERS_URL, status=503)
    responses.get(OFFERS_URL, json=[])
    client.get_offers(StaticTokens(), PRODUCT)
    path = f"/api/v1/products/{PRODUCT}/offers"
    assert [(a["path"], a["outcome"]) for a in seen] == [(path, "timeout"), (path, "503"), (path, "200")]


@responses.activate
def test_shutdown_interrupts_the_backoff():
    client = OffersServiceClient(BASE, wait=RecordingWait(stop_after=1))
    responses.get(OFFERS_URL, status=503)
    with pytest.raises(Interrupted):
        client.get_offers(StaticTokens(), PRODUCT)
    assert len(responses.calls) == 1


@responses.activate
def test_401_invalidates_the_token_and_retries_once_with_a_new_one(client):
    tokens = StaticTokens("old", "new")
    responses.get(OFFERS_URL, status=401, match=[matchers.header_matcher({"Bearer": "old"})])
    responses.get(OFFERS_URL, json=[], match=[matchers.header_matcher({"Bearer": "new"})])
    assert client.get_offers(tokens, PRODUCT) == []
    assert tokens.invalidated == ["old"]


@responses.activate
def test_401_twice_is_an_auth_error(client):
    tokens = StaticTokens("old", "new")
    responses.get(OFFERS_URL, status=401)
    with pytest.raises(AuthError):
        client.get_offers(tokens, PRODUCT)
    assert len(responses.calls) == 2


@pytest.mark.parametrize(
    "body",
    [
        {"offers": []},
        [{"id": "not-a-uuid", "price": 1, "items_in_stock": 1}],
        [{"price": 1, "items_in_stock": 1}],
        [{"id": str(uuid.uuid4()), "price": "1", "items_in_stock": 1}],
        [{"id": str(uuid.uuid4()), "price": 1.5, "items_in_stock": 1}],
        [{"id": str(uuid.uuid4()), "price": True, "items_in_stock": 1}],
        [{"id": str(uuid.uuid4()), "price": 1, "items_in_stock": None}],
        [{"id": str(uuid.uuid4()), "price": -1, "items_in_stock": 1}],
        [{"id": str(uuid.uuid4()), "price": 1, "items_in_stock": 1}, "junk"],
        [{"id": "0885aab1-4da3-54c2-f626-acc74bab381e", "price": 1, "items_in_stock": 1}] * 2,
    ],
)
@responses.activate
def test_one_bad_offer_makes_the_whole_answer_malformed(client, body):
    responses.get(OFFERS_URL, json=body)
    with pytest.raises(MalformedResponse):
        client.get_offers(StaticTokens(), PRODUCT)


@responses.activate
def test_non_json_answer_is_malformed(client):
    responses.get(OFFERS_URL, body="<html>", content_type="text/html")
    with pytest.raises(MalformedResponse):
        client.get_offers(StaticTokens(), PRODUCT)


class TestAuth:
    @responses.activate
    def test_issues_a_token_and_reads_its_expiry(self, client):
        token = make_access_token(expires=1_900_000_000)
        responses.post(
            f"{BASE}/api/v1/auth",
            status=201,
            json={"access_token": token},
            match=[matchers.header_matcher({"Bearer": "the-refresh-token"})],
        )
        issued = client.issue_access_token("the-refresh-token")
        assert issued.token == token
        assert issued.expires_at == datetime.fromtimestamp(1_900_000_000, UTC)
        assert token not in repr(issued)

    @responses.activate
    def test_another_valid_is_reported(self, client):
        responses.post(f"{BASE}/api/v1/auth", status=400, json={"detail": "Cannot generate access token"})
        with pytest.raises(AccessTokenStillValid):
            client.issue_access_token("r")

    @responses.activate
    def test_bad_refresh_token(self, client):
        responses.post(f"{BASE}/api/v1/auth", status=401, json={"detail": "bad"})
        with pytest.raises(RefreshTokenRejected):
            client.issue_access_token("r")

    @responses.activate
    # no payload; payload "not-json"; payload {}; payload {"expires": "now"}
    @pytest.mark.parametrize("token", ["opaque", "a.bm90LWpzb24.c", "a.e30.c", "a.eyJleHBpcmVzIjoibm93In0.c"])
    def test_token_without_readable_expiry_is_malformed(self, client, token):
        responses.post(f"{BASE}/api/v1/auth", status=201, json={"access_token": token})
        with pytest.raises(MalformedResponse):
            client.issue_access_token("r")


class TestRegister:
    @responses.activate
    @pytest.mark.parametrize("status", [201, 409])
    def test_created_or_already_registered(self, client, status):
        responses.post(
            f"{BASE}/api/v1/products/register",
            status=status,
            json={"id": str(PRODUCT)},
            match=[matchers.json_params_matcher({"id": str(PRODUCT), "name": "Mug", "description": ""})],
        )
        client.register_product(StaticTokens(), product_id=PRODUCT, name="Mug", description="")

    @responses.activate
    def test_422_is_permanent(self, client):
        responses.post(f"{BASE}/api/v1/products/register", status=422, json={"detail": []})
        with pytest.raises(PermanentError):
            client.register_product(StaticTokens(), product_id=PRODUCT, name="Mug", description="")


class TestHostileAnswers:
    """Whatever one answer holds, the caller gets an OffersServiceError, never anything else."""

    @responses.activate
    @pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
    def test_a_redirect_is_a_failed_call_and_is_never_followed(self, client, status):
        elsewhere = "http://elsewhere.test/api/v1/products/x/offers"
        responses.get(OFFERS_URL, status=status, headers={"Location": elsewhere})
        responses.get(elsewhere, status=404, json={"detail": "Product does not exist"})
        with pytest.raises(Redirected):
            client.get_offers(StaticTokens("access-1"), PRODUCT)
        assert [call.request.url for call in responses.calls] == [OFFERS_URL]  # never ProductNotRegistered

    @responses.activate
    def test_a_redirected_auth_is_a_failed_auth_and_the_refresh_token_stays_home(self, client):
        responses.post(f"{BASE}/api/v1/auth", status=307, headers={"Location": "http://elsewhere.test/steal"})
        responses.post("http://elsewhere.test/steal", status=201, json={"access_token": make_access_token()})
        with pytest.raises(Redirected):
            client.issue_access_token("refresh-secret")
        assert len(responses.calls) == 1

    @responses.activate
    def test_a_redirected_register_is_a_failed_registration(self, client):
        responses.post(f"{BASE}/api/v1/products/register", status=302, headers={"Location": "/elsewhere"})
        with pytest.raises(Redirected):
            client.register_product(StaticTokens(), product_id=PRODUCT, name="Mug", description="")
        assert len(responses.calls) == 1

    @responses.activate
    @pytest.mark.parametrize("declared", [True, False])
    def test_a_body_over_the_limit_is_refused_without_being_buffered(self, declared):
        client = OffersServiceClient(BASE, wait=lambda s: False, max_attempts=1, max_answer_bytes=1000)
        body = b"[" + b"0," * 5000 + b"0]"
        responses.add(responses.GET, OFFERS_URL, body=body, auto_calculate_content_length=declared)
        with pytest.raises(AnswerTooLarge):
            client.get_offers(StaticTokens(), PRODUCT)

    @responses.activate
    @pytest.mark.parametrize(
        "body",
        [
            b"[" * 100_000 + b"]" * 100_000,
            b'[{"id": "6f1b2c1e-0000-4000-8000-000000000009", "price": 1' + b"0" * 5000 + b', "items_in_stock": 1}]',
            b'[{"id": "\xff\xfe", "price": 1, "items_in_stock": 1}]',
            b"null",
            b'"offers"',
            b"42",
            b"",
        ],
        ids=["deep", "5000-digit-number", "not-utf8", "null", "string", "number", "empty"],
    )
    def test_unparseable_bodies_are_malformed(self, client, body):
        responses.add(responses.GET, OFFERS_URL, body=body)
        with pytest.raises(MalformedResponse):
            client.get_offers(StaticTokens(), PRODUCT)

    @responses.activate
    @pytest.mark.parametrize(
        "change",
        [
            {"price": 2**63},
            {"price": 2**64 + 1},
            {"items_in_stock": 2**63},
            {"items_in_stock": -1},
            {"price": -5},
            {"price": True},
            {"items_in_stock": False},
            {"items_in_stock": 1e300},
            {"price": None},
            {"id": 12345},
            {"id": ["6f1b2c1e-0000-4000-8000-000000000009"]},
        ],
    )
    def test_values_that_do_not_fit_the_columns_make_the_answer_malformed(self, client, change):
        good = {"id": "6f1b2c1e-0000-4000-8000-000000000009", "price": 1, "items_in_stock": 1}
        responses.get(OFFERS_URL, body=json.dumps([good | {"id": str(uuid.uuid4())}, good | change]))
        with pytest.raises(MalformedResponse):
            client.get_offers(StaticTokens(), PRODUCT)

    @responses.activate
    def test_the_largest_values_the_columns_hold_are_accepted(self, client):
        offer_id = "6f1b2c1e-0000-4000-8000-000000000009"
        responses.get(OFFERS_URL, json=[{"id": offer_id, "price": 2**63 - 1, "items_in_stock": 2**63 - 1}])
        assert client.get_offers(StaticTokens(), PRODUCT) == [OfferData(uuid.UUID(offer_id), 2**63 - 1, 2**63 - 1)]

    @responses.activate
    @pytest.mark.parametrize("token", ["line\nbreak", "naïve", "has space", "x" * 10_000, 42, ""])
    def test_an_access_token_that_cannot_go_in_a_header_is_malformed(self, client, token):
        responses.post(f"{BASE}/api/v1/auth", status=201, json={"access_token": token})
        with pytest.raises(MalformedResponse):
            client.issue_access_token("refresh")

    @responses.activate
    def test_a_garbled_answer_is_a_temporary_failure(self, client):
        responses.get(OFFERS_URL, body=ValueError("garbled status line"))
        with pytest.raises(TemporaryError):
            client.get_offers(StaticTokens(), PRODUCT)

    @responses.activate
    def test_a_reset_connection_is_a_temporary_failure(self, client):
        responses.get(OFFERS_URL, body=requests.ConnectionError("Connection reset by peer"))
        with pytest.raises(TemporaryError, match="connection failed"):
            client.get_offers(StaticTokens(), PRODUCT)


class TestRequests:
    @responses.activate
    def test_a_base_url_with_a_path_keeps_it_in_every_call(self, wait):
        client = OffersServiceClient("http://offers.test/upstream/", wait=wait)
        url = f"http://offers.test/upstream/api/v1/products/{PRODUCT}/offers"
        responses.get(url, json=[], match=[matchers.header_matcher({"Bearer": "access-1"})])
        assert client.get_offers(StaticTokens("access-1"), PRODUCT) == []
        assert client.get_offers(StaticTokens("access-1"), PRODUCT) == []
        assert [call.request.url for call in responses.calls] == [url, url]

    @responses.activate
    def test_each_call_carries_its_own_token(self, client):
        responses.get(OFFERS_URL, json=[], match=[matchers.header_matcher({"Bearer": "access-1"})])
        responses.get(OFFERS_URL, json=[], match=[matchers.header_matcher({"Bearer": "access-2"})])
        for token in ("access-1", "access-2", "access-1"):
            client.get_offers(StaticTokens(token), PRODUCT)
        assert [call.request.headers["Bearer"] for call in responses.calls] == ["access-1", "access-2", "access-1"]

    @responses.activate
    def test_a_refresh_token_that_cannot_go_in_a_header_fails_without_a_request(self, client):
        with pytest.raises(TemporaryError):
            client.issue_access_token("refresh\r\nX-Injected: yes")
        assert len(responses.calls) == 0

    @responses.activate
    def test_a_base_url_requests_refuses_fails_each_call_as_temporary(self, wait):
        client = OffersServiceClient("offers.test-without-a-scheme", wait=wait, max_attempts=1)
        with pytest.raises(TemporaryError):
            client.get_offers(StaticTokens(), PRODUCT)
