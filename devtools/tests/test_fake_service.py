"""The fake offers service keeps the real service's rules, over real HTTP (no database needed)."""

import base64
import http.client
import json
import re
import time
import uuid

import pytest
import requests

from devtools.fake_service import ANOTHER_IS_VALID, FakeOffersService, encode_jwt

pytestmark = pytest.mark.e2e

REFRESH_TOKEN = "test-refresh-token"


@pytest.fixture
def fake():
    # No latency and no timed churn: tests step churn themselves and stay fast and deterministic.
    with FakeOffersService(refresh_token=REFRESH_TOKEN, latency_ms=0, jitter_ms=0, churn_interval=0, seed=1234) as f:
        yield f


def auth(fake, refresh_token=REFRESH_TOKEN) -> requests.Response:
    headers = {} if refresh_token is None else {"Bearer": refresh_token}
    return requests.post(f"{fake.url}/api/v1/auth", headers=headers, timeout=5)


def access_token(fake) -> str:
    response = auth(fake)
    assert response.status_code == 201
    return response.json()["access_token"]


def register(fake, token, body) -> requests.Response:
    headers = {} if token is None else {"Bearer": token}
    return requests.post(f"{fake.url}/api/v1/products/register", json=body, headers=headers, timeout=5)


def get_offers(fake, token, product_id, **kwargs) -> requests.Response:
    headers = {} if token is None else {"Bearer": token}
    return requests.get(f"{fake.url}/api/v1/products/{product_id}/offers", headers=headers, **{"timeout": 5, **kwargs})


def registered_product(fake, token) -> str:
    product_id = str(uuid.uuid4())
    assert register(fake, token, {"id": product_id, "name": "Mug", "description": ""}).status_code == 201
    return product_id


def jwt_part(token: str, index: int) -> dict:
    part = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def is_contract_offer_list(response: requests.Response) -> bool:
    """What a strict client accepts: a JSON list of offers with UUID-text ids and int price and stock."""
    try:
        data = response.json()
    except ValueError:
        return False

    def valid(offer) -> bool:
        if not isinstance(offer, dict) or set(offer) != {"id", "price", "items_in_stock"}:
            return False
        try:
            uuid.UUID(offer["id"])
        except (TypeError, ValueError, AttributeError):
            return False
        return type(offer["price"]) is int and type(offer["items_in_stock"]) is int

    return isinstance(data, list) and all(valid(offer) for offer in data)


class TestAuth:
    def test_issues_an_hs256_jwt_carrying_the_refresh_token_and_its_expiry(self, fake):
        before = time.time()
        response = auth(fake)
        assert response.status_code == 201
        token = response.json()["access_token"]
        assert re.fullmatch(r"[\w-]+\.[\w-]+\.[\w-]+", token)  # base64url, no padding
        assert jwt_part(token, 0) == {"alg": "HS256", "typ": "JWT"}
        payload = jwt_part(token, 1)
        assert payload["token"] == REFRESH_TOKEN
        assert isinstance(payload["expires"], int)
        assert before + 300 - 1 <= payload["expires"] <= time.time() + 300

    def test_refuses_a_second_token_while_the_first_is_valid(self, fake):
        access_token(fake)
        response = auth(fake)
        assert response.status_code == 400
        assert response.json() == {"detail": ANOTHER_IS_VALID}

    def test_wrong_refresh_token_is_401_without_echoing_it(self, fake):
        response = auth(fake, "not-the-refresh-token")
        assert response.status_code == 401
        assert "detail" in response.json()
        assert "not-the-refresh-token" not in response.text

    def test_missing_header_is_422(self, fake):
        response = auth(fake, None)
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["header", "bearer"]

    def test_after_expiry_the_old_token_is_refused_and_a_new_one_issued(self, fake):
        old = access_token(fake)
        product_id = registered_product(fake, old)
        assert requests.post(f"{fake.url}/_control/expire-token", timeout=5).json() == {"expired": True}

        assert get_offers(fake, old, product_id).status_code == 401
        new = access_token(fake)
        assert new != old
        assert get_offers(fake, new, product_id).status_code == 200
        assert get_offers(fake, old, product_id).status_code == 401

    def test_a_token_expires_by_itself_after_its_lifetime(self):
        with FakeOffersService(refresh_token=REFRESH_TOKEN, latency_ms=0, jitter_ms=0, token_lifetime=1) as fake:
            token = access_token(fake)
            product_id = registered_product(fake, token)
            deadline = time.monotonic() + 5
            while get_offers(fake, token, product_id).status_code == 200:
                assert time.monotonic() < deadline, "the token never expired"
                time.sleep(0.05)
            assert get_offers(fake, token, product_id).status_code == 401
            assert auth(fake).status_code == 201


class TestAccessToken:
    @pytest.mark.parametrize(
        "token",
        [
            "garbage",
            "",
            # Well-formed, but signed with another secret: only the token the fake issued counts.
            encode_jwt({"token": REFRESH_TOKEN, "expires": int(time.time()) + 300}, b"another secret"),
        ],
    )
    def test_unknown_or_malformed_access_token_is_401(self, fake, token):
        product_id = registered_product(fake, access_token(fake))
        response = get_offers(fake, token, product_id)
        assert response.status_code == 401
        assert "detail" in response.json()
        assert register(fake, token, {"id": str(uuid.uuid4()), "name": "x", "description": ""}).status_code == 401

    def test_missing_access_token_is_422(self, fake):
        product_id = registered_product(fake, access_token(fake))
        assert get_offers(fake, None, product_id).status_code == 422
        assert register(fake, None, {"id": str(uuid.uuid4()), "name": "x", "description": ""}).status_code == 422


class TestRegister:
    def test_registers_once_then_409(self, fake):
        token = access_token(fake)
        product_id = str(uuid.uuid4())
        body = {"id": product_id, "name": "Mug", "description": "Blue"}
        response = register(fake, token, body)
        assert response.status_code == 201
        assert response.json() == {"id": product_id}
        assert register(fake, token, body).status_code == 409
        control = requests.get(f"{fake.url}/_control/products/{product_id}", timeout=5).json()
        assert control == {"id": product_id, "name": "Mug", "description": "Blue"}

    @pytest.mark.parametrize(
        "body",
        [
            {"name": "Mug", "description": ""},
            {"id": "not-a-uuid", "name": "Mug", "description": ""},
            {"id": "<uuid>", "description": ""},
            {"id": "<uuid>", "name": "Mug"},
            {"id": "<uuid>", "name": 7, "description": ""},
            {"id": "<uuid>", "name": "Mug", "description": None},
            ["<uuid>", "Mug", ""],
            None,
        ],
    )
    def test_bad_body_is_422_and_registers_nothing(self, fake, body):
        product_id = str(uuid.uuid4())
        body = json.loads(json.dumps(body).replace("<uuid>", product_id))
        response = register(fake, access_token(fake), body)
        assert response.status_code == 422
        assert isinstance(response.json()["detail"], list)
        assert fake.product(product_id) is None

    def test_non_json_body_is_422(self, fake):
        response = requests.post(
            f"{fake.url}/api/v1/products/register", data=b"{not json", headers={"Bearer": access_token(fake)}, timeout=5
        )
        assert response.status_code == 422


class TestOffers:
    def test_lists_the_registered_products_offers(self, fake):
        token = access_token(fake)
        product_id = registered_product(fake, token)
        response = get_offers(fake, token, product_id)
        assert response.status_code == 200
        offers = response.json()
        assert 1 <= len(offers) <= 8
        assert is_contract_offer_list(response)
        assert all(offer["price"] > 0 and offer["items_in_stock"] >= 0 for offer in offers)
        assert get_offers(fake, token, product_id).json() == offers  # no churn between reads

    def test_unknown_product_is_404(self, fake):
        response = get_offers(fake, access_token(fake), uuid.uuid4())
        assert response.status_code == 404
        assert response.json() == {"detail": "Product does not exist"}

    def test_malformed_product_id_is_422(self, fake):
        response = get_offers(fake, access_token(fake), "not-a-uuid")
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["path", "product_id"]

    def test_offer_ids_are_uuid_text_but_not_all_rfc_4122(self, fake):
        token = access_token(fake)
        ids = [
            offer["id"] for _ in range(5) for offer in get_offers(fake, token, registered_product(fake, token)).json()
        ]
        parsed = [uuid.UUID(offer_id) for offer_id in ids]
        assert [str(u) for u in parsed] == ids
        assert any(u.variant != uuid.RFC_4122 for u in parsed)

    def test_auto_register_serves_unknown_products(self):
        with FakeOffersService(refresh_token=REFRESH_TOKEN, latency_ms=0, jitter_ms=0, auto_register=True) as fake:
            response = get_offers(fake, access_token(fake), uuid.uuid4())
            assert response.status_code == 200
            assert response.json()

    def test_keep_alive_serves_several_requests_on_one_connection(self, fake):
        connection = http.client.HTTPConnection("127.0.0.1", fake.port, timeout=5)
        try:
            for _ in range(3):
                connection.request("GET", "/_control/state")
                response = connection.getresponse()
                assert response.status == 200
                response.read()
        finally:
            connection.close()


class TestChurn:
    def test_a_step_changes_some_products_and_offers_keep_their_ids(self, fake):
        token = access_token(fake)
        products = [registered_product(fake, token) for _ in range(40)]
        before = {p: get_offers(fake, token, p).json() for p in products}

        step = requests.post(f"{fake.url}/_control/churn/step", json={"epochs": 3}, timeout=5)
        assert step.status_code == 200
        after = {p: get_offers(fake, token, p).json() for p in products}

        changed = [p for p in products if before[p] != after[p]]
        assert 0 < len(changed) < len(products)
        old_offers = {o["id"]: o for p in products for o in before[p]}
        updated_in_place = [o for p in products for o in after[p] if o["id"] in old_offers and o != old_offers[o["id"]]]
        assert updated_in_place
        assert all(is_contract_offer_list(get_offers(fake, token, p)) for p in products)

    def test_timed_churn_runs_until_paused(self):
        with FakeOffersService(refresh_token=REFRESH_TOKEN, latency_ms=0, jitter_ms=0, churn_interval=0.01) as fake:
            product_ids = [str(uuid.uuid4()) for _ in range(10)]
            for product_id in product_ids:
                fake.register_product(product_id)
            first = [fake.product_offers(p) for p in product_ids]
            deadline = time.monotonic() + 5
            while [fake.product_offers(p) for p in product_ids] == first:
                assert time.monotonic() < deadline, "offers never changed"
                time.sleep(0.02)

            assert requests.post(f"{fake.url}/_control/churn", json={"paused": True}, timeout=5).status_code == 200
            paused_epoch = fake.state()["churn"]["epoch"]
            frozen = [fake.product_offers(p) for p in product_ids]
            time.sleep(0.1)  # ten churn intervals of wall time pass
            assert fake.state()["churn"] == {"interval": 0.01, "paused": True, "epoch": paused_epoch}
            assert [fake.product_offers(p) for p in product_ids] == frozen

    def test_a_seed_makes_offers_reproducible(self):
        product_id = str(uuid.uuid4())
        histories = []
        for _ in range(2):
            with FakeOffersService(refresh_token=REFRESH_TOKEN, churn_interval=0, seed=99) as fake:
                fake.register_product(product_id)
                history = [fake.product_offers(product_id)]
                for _ in range(20):
                    fake.churn_step()
                    history.append(fake.product_offers(product_id))
                histories.append(history)
        assert histories[0] == histories[1]


class TestFaults:
    @pytest.fixture
    def product(self, fake):
        token = access_token(fake)
        return token, registered_product(fake, token)

    def set_faults(self, fake, **faults) -> dict:
        response = requests.put(f"{fake.url}/_control/faults", json=faults, timeout=5)
        assert response.status_code == 200
        return response.json()

    def test_no_faults_at_rate_zero(self, fake, product):
        token, product_id = product
        self.set_faults(fake, error_rate=0, rate_limit_rate=0, timeout_rate=0, malformed_rate=0)
        assert all(is_contract_offer_list(get_offers(fake, token, product_id)) for _ in range(30))

    def test_error_rate_gives_5xx_with_json_or_html(self, fake, product):
        token, product_id = product
        self.set_faults(fake, error_rate=1)
        responses = [get_offers(fake, token, product_id) for _ in range(30)]
        assert {r.status_code for r in responses} <= {500, 502, 503}
        assert {r.headers["Content-Type"].split(";")[0] for r in responses} == {"application/json", "text/html"}

    def test_rate_limit_gives_429_with_retry_after(self, fake, product):
        token, product_id = product
        self.set_faults(fake, rate_limit_rate=1)
        response = get_offers(fake, token, product_id)
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "1"

    def test_timeout_holds_the_call_past_the_clients_read_timeout(self, fake, product):
        token, product_id = product
        self.set_faults(fake, timeout_rate=1, timeout_seconds=0.5)
        with pytest.raises(requests.ReadTimeout):
            get_offers(fake, token, product_id, timeout=(2, 0.1))

    def test_malformed_gives_200_with_bodies_a_strict_client_rejects_in_several_ways(self, fake, product):
        token, product_id = product
        self.set_faults(fake, malformed_rate=1)
        responses = [get_offers(fake, token, product_id) for _ in range(40)]
        assert {r.status_code for r in responses} == {200}
        assert not any(is_contract_offer_list(r) for r in responses)

        def shape(response):
            try:
                return type(response.json()).__name__
            except ValueError:
                return "not json"

        assert {shape(r) for r in responses} == {"list", "dict", "not json"}

    def test_a_failed_registration_registers_nothing(self, fake):
        token = access_token(fake)
        self.set_faults(fake, error_rate=1)
        product_id = str(uuid.uuid4())
        assert register(fake, token, {"id": product_id, "name": "Mug", "description": ""}).status_code >= 500
        assert requests.get(f"{fake.url}/_control/products/{product_id}/offers", timeout=5).status_code == 404

    def test_faults_spare_auth_and_control(self, fake, product):
        _, product_id = product
        self.set_faults(fake, error_rate=1, rate_limit_rate=1, malformed_rate=1)
        assert requests.post(f"{fake.url}/_control/expire-token", timeout=5).status_code == 200
        assert auth(fake).status_code == 201
        truth = requests.get(f"{fake.url}/_control/products/{product_id}/offers", timeout=5)
        assert is_contract_offer_list(truth)


class TestControl:
    def test_faults_update_partially_and_refuse_bad_values(self, fake):
        response = requests.put(f"{fake.url}/_control/faults", json={"error_rate": 0.25, "latency_ms": 5}, timeout=5)
        assert response.status_code == 200
        assert response.json() == {
            "error_rate": 0.25,
            "rate_limit_rate": 0.0,
            "timeout_rate": 0.0,
            "malformed_rate": 0.0,
            "hostile_rate": 0.0,
            "timeout_seconds": 30.0,
            "latency_ms": 5.0,
            "jitter_ms": 0.0,
        }
        for bad in ({"error_rate": 1.5}, {"latency_ms": -1}, {"error_rate": "high"}, {"no_such_fault": 1}):
            assert requests.put(f"{fake.url}/_control/faults", json=bad, timeout=5).status_code == 422
        assert requests.get(f"{fake.url}/_control/state", timeout=5).json()["faults"]["error_rate"] == 0.25

    def test_stats_count_requests_and_reset(self, fake):
        token = access_token(fake)
        auth(fake)  # refused: another is valid
        product_id = registered_product(fake, token)
        get_offers(fake, token, product_id)
        get_offers(fake, token, product_id)
        requests.get(f"{fake.url}/_control/products/{product_id}/offers", timeout=5)  # not counted

        stats = requests.get(f"{fake.url}/_control/stats", timeout=5).json()
        assert stats == {
            "auth_requests": 2,
            "auth_refused_another_valid": 1,
            "register_requests": 1,
            "offers_requests": {product_id: 2},
        }
        state = requests.get(f"{fake.url}/_control/state", timeout=5).json()
        assert state["counters"]["offers_requests"] == 2
        assert state["products"] == 1
        assert state["token"]["valid"] is True

        assert requests.post(f"{fake.url}/_control/stats/reset", timeout=5).status_code == 200
        assert fake.stats() == {
            "auth_requests": 0,
            "auth_refused_another_valid": 0,
            "register_requests": 0,
            "offers_requests": {},
        }

    def test_control_truth_matches_what_the_api_serves(self, fake):
        token = access_token(fake)
        product_id = registered_product(fake, token)
        requests.post(f"{fake.url}/_control/churn/step", timeout=5)
        truth = requests.get(f"{fake.url}/_control/products/{product_id}/offers", timeout=5)
        assert truth.status_code == 200
        assert truth.json() == get_offers(fake, token, product_id).json()
        assert requests.get(f"{fake.url}/_control/products/{uuid.uuid4()}/offers", timeout=5).status_code == 404

    def test_a_forgotten_product_is_404_until_registered_again(self, fake):
        token = access_token(fake)
        product_id = registered_product(fake, token)
        assert requests.delete(f"{fake.url}/_control/products/{product_id}", timeout=5).status_code == 200
        assert get_offers(fake, token, product_id).status_code == 404
        assert register(fake, token, {"id": product_id, "name": "Mug", "description": ""}).status_code == 201
        assert get_offers(fake, token, product_id).status_code == 200
        assert requests.delete(f"{fake.url}/_control/products/{uuid.uuid4()}", timeout=5).status_code == 404

    def test_churn_pause_needs_a_boolean(self, fake):
        assert requests.post(f"{fake.url}/_control/churn", json={}, timeout=5).status_code == 422
        response = requests.post(f"{fake.url}/_control/churn", json={"paused": True}, timeout=5)
        assert response.json()["paused"] is True


class TestHostile:
    def test_control_sets_and_refuses_hostile_kinds(self, fake):
        token = access_token(fake)
        product_id = registered_product(fake, token)
        put = requests.put(f"{fake.url}/_control/products/{product_id}/hostile", json={"kind": "reset"}, timeout=5)
        assert put.status_code == 200
        with pytest.raises(requests.ConnectionError):
            get_offers(fake, token, product_id)
        bad = requests.put(f"{fake.url}/_control/products/{product_id}/hostile", json={"kind": "nice"}, timeout=5)
        assert bad.status_code == 422
        requests.put(f"{fake.url}/_control/products/{product_id}/hostile", json={"kind": None}, timeout=5)
        assert get_offers(fake, token, product_id).status_code == 200

    def test_a_redirect_points_at_the_trap_on_another_origin(self, fake):
        token = access_token(fake)
        product_id = registered_product(fake, token)
        fake.set_hostile(product_id, "redirect")
        answer = get_offers(fake, token, product_id, allow_redirects=False)
        assert answer.status_code == 307
        trap = requests.get(f"{fake.url}/_control/trap", timeout=5).json()
        assert answer.headers["Location"].startswith(trap["url"])
        assert trap["url"] != fake.url
        followed = get_offers(fake, token, product_id)  # a client that follows redirects, as requests does
        assert followed.status_code == 404
        assert fake.trap_stats()["credential_headers"] == ["bearer"]  # what the trap is there to catch

    def test_outage_refuses_connections_then_serves_the_same_state(self, fake):
        token = access_token(fake)
        product_id = registered_product(fake, token)
        assert requests.post(f"{fake.url}/_control/outage", json={"seconds": 1}, timeout=5).status_code == 200
        deadline = time.monotonic() + 5
        while True:  # down soon after answering
            try:
                requests.get(f"{fake.url}/_control/state", timeout=1)
            except requests.ConnectionError:
                break
            assert time.monotonic() < deadline
        deadline = time.monotonic() + 10
        while True:
            try:
                assert get_offers(fake, token, product_id).status_code == 200
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.05)  # polling interval while it is down
