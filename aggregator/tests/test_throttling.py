"""Overload: anonymous reads and writes past their rates get a JSON 429 with Retry-After."""

import subprocess
import sys

import pytest
from django.core.cache import caches

from aggregator.config import ConfigError, read_rate
from aggregator.settings import DEFAULT_ANON_READ_RATE, DEFAULT_WRITE_RATE
from aggregator.tests.factories import TokenFactory, product_permissions
from aggregator.throttling import THROTTLE_CACHE, AnonReadThrottle, FailedAuthenticationThrottle, WriteThrottle
from catalogue.models import Product
from catalogue.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


class Clock:
    """Stands in for the throttles' time.time, so a window can pass without waiting for it."""

    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(AnonReadThrottle, "timer", clock)
    monkeypatch.setattr(WriteThrottle, "timer", clock)
    monkeypatch.setattr(FailedAuthenticationThrottle, "timer", clock)
    return clock


@pytest.fixture
def rates(settings):
    """Throttling on (the test settings turn it off), with small rates and empty counters."""
    caches[THROTTLE_CACHE].clear()
    settings.THROTTLE_RATES = {"anon_read": "3/minute", "write": "2/minute", "failed_auth": "3/minute"}
    yield settings.THROTTLE_RATES
    caches[THROTTLE_CACHE].clear()


def assert_throttled(response):
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    assert "throttled" in response.json()["detail"]
    assert 1 <= int(response["Retry-After"]) <= 60


class TestAnonymousReads:
    def test_past_the_rate_is_429_with_retry_after(self, rates, clock, api_client):
        for _ in range(3):
            assert api_client.get("/products").status_code == 200
        clock.now += 20
        response = api_client.get("/products")
        assert_throttled(response)
        assert int(response["Retry-After"]) == 40  # when the oldest of the three leaves the window

    def test_allowed_again_once_the_window_has_passed(self, rates, clock, api_client):
        for _ in range(3):
            api_client.get("/products")
        assert api_client.get("/products").status_code == 429
        clock.now += 60
        assert api_client.get("/products").status_code == 200

    def test_every_read_endpoint_shares_the_budget(self, rates, clock, api_client):
        product = ProductFactory(name="Mug")
        api_client.get("/products")
        api_client.get(f"/products/{product.id}")
        api_client.get(f"/products/{product.id}/offers")
        assert_throttled(api_client.get(f"/products/{product.id}"))

    def test_each_address_has_its_own_budget(self, rates, clock, api_client):
        for _ in range(3):
            api_client.get("/products", REMOTE_ADDR="10.0.0.1")
        assert api_client.get("/products", REMOTE_ADDR="10.0.0.1").status_code == 429
        assert api_client.get("/products", REMOTE_ADDR="10.0.0.2").status_code == 200

    def test_a_forged_forwarded_for_header_does_not_escape_the_limit(self, rates, clock, api_client):
        for i in range(3):
            api_client.get("/products", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}")
        assert_throttled(api_client.get("/products", HTTP_X_FORWARDED_FOR="198.51.100.99"))

    def test_behind_a_trusted_proxy_the_address_it_appends_counts(self, rates, clock, api_client, settings):
        settings.TRUSTED_PROXY_NETWORKS = ["10.0.0.0/8"]
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
        proxy = {"REMOTE_ADDR": "10.1.2.3"}
        for _ in range(3):
            api_client.get("/products", HTTP_X_FORWARDED_FOR="forged, 203.0.113.7", **proxy)
        assert api_client.get("/products", HTTP_X_FORWARDED_FOR="forged, 203.0.113.7", **proxy).status_code == 429
        assert api_client.get("/products", HTTP_X_FORWARDED_FOR="forged, 203.0.113.8", **proxy).status_code == 200

    def test_a_client_reaching_the_app_directly_cannot_pick_its_address(self, rates, clock, api_client, settings):
        # The proxy's network is configured, but this connection does not come from it.
        settings.TRUSTED_PROXY_NETWORKS = ["10.0.0.0/8"]
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
        for i in range(3):
            api_client.get("/products", REMOTE_ADDR="198.51.100.5", HTTP_X_FORWARDED_FOR=f"203.0.113.{i}")
        response = api_client.get("/products", REMOTE_ADDR="198.51.100.5", HTTP_X_FORWARDED_FOR="203.0.113.99")
        assert_throttled(response)

    def test_reads_with_a_token_are_not_throttled(self, rates, clock, auth_client):
        for _ in range(10):
            assert auth_client.get("/products").status_code == 200

    def test_health_is_never_throttled(self, rates, clock, api_client):
        for _ in range(10):
            assert api_client.get("/health").status_code == 200

    def test_off_means_unlimited(self, rates, clock, api_client, settings):
        settings.THROTTLE_RATES = {**rates, "anon_read": None}
        for _ in range(10):
            assert api_client.get("/products").status_code == 200


class TestFailedAuthentication:
    """Wrong or unknown tokens, per client address: 3 failures a minute here, then 429 for any token."""

    @pytest.fixture
    def failures(self, rates, settings):
        settings.THROTTLE_RATES = {**rates, "anon_read": None}

    @staticmethod
    def with_token(api_client, token: str, address: str = "192.0.2.1", **headers):
        return api_client.get("/products", HTTP_AUTHORIZATION=f"Token {token}", REMOTE_ADDR=address, **headers)

    def test_past_the_rate_wrong_tokens_get_429_with_retry_after(self, failures, clock, api_client):
        for i in range(3):
            assert self.with_token(api_client, f"wrong-{i}").status_code == 401
        clock.now += 15
        response = self.with_token(api_client, "wrong-3")
        assert_throttled(response)
        assert int(response["Retry-After"]) == 45

    def test_then_even_a_right_token_from_that_address_is_refused_and_writes_nothing(
        self, failures, clock, api_client, api_user
    ):
        right = TokenFactory(user=api_user).key
        for i in range(3):
            self.with_token(api_client, f"wrong-{i}")
        assert_throttled(self.with_token(api_client, right))
        response = api_client.post(
            "/products", {"name": "Mug"}, format="json", HTTP_AUTHORIZATION=f"Token {right}", REMOTE_ADDR="192.0.2.1"
        )
        assert_throttled(response)
        assert Product.objects.count() == 0
        clock.now += 60
        assert self.with_token(api_client, right).status_code == 200

    def test_each_address_has_its_own_budget(self, failures, clock, api_client):
        for i in range(3):
            self.with_token(api_client, f"wrong-{i}", address="192.0.2.1")
        assert self.with_token(api_client, "wrong", address="192.0.2.1").status_code == 429
        assert self.with_token(api_client, "wrong", address="192.0.2.2").status_code == 401

    @pytest.mark.parametrize("header", ["Token", "Token a b", "Token " + "x" * 5000, "token lowercase-keyword"])
    def test_malformed_token_headers_count_as_failures(self, failures, clock, api_client, header):
        for _ in range(3):
            assert api_client.get("/products", HTTP_AUTHORIZATION=header).status_code == 401
        assert_throttled(api_client.get("/products", HTTP_AUTHORIZATION=header))

    def test_right_tokens_and_requests_without_one_are_not_counted(self, failures, clock, api_client, auth_client):
        for _ in range(10):
            assert auth_client.get("/products").status_code == 200
            assert api_client.get("/products").status_code == 200
            assert api_client.get("/products", HTTP_AUTHORIZATION="Bearer something-else").status_code == 200
        assert self.with_token(api_client, "wrong", address="127.0.0.1").status_code == 401

    def test_requests_without_a_token_go_on_while_an_address_is_refused(self, failures, clock, api_client):
        for i in range(4):
            self.with_token(api_client, f"wrong-{i}")
        assert api_client.get("/products", REMOTE_ADDR="192.0.2.1").status_code == 200

    def test_behind_a_trusted_proxy_failures_count_per_forwarded_client(self, failures, clock, api_client, settings):
        settings.TRUSTED_PROXY_NETWORKS = ["10.0.0.0/8"]
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
        for i in range(3):
            self.with_token(api_client, f"wrong-{i}", address="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.7")
        same, other = ("203.0.113.7", "203.0.113.8")
        assert_throttled(self.with_token(api_client, "w", address="10.0.0.2", HTTP_X_FORWARDED_FOR=same))
        assert self.with_token(api_client, "w", address="10.0.0.2", HTTP_X_FORWARDED_FOR=other).status_code == 401

    def test_off_means_unlimited(self, failures, clock, api_client, settings):
        settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "failed_auth": None}
        for i in range(10):
            assert self.with_token(api_client, f"wrong-{i}").status_code == 401


class TestWrites:
    def test_past_the_rate_is_429_and_writes_nothing(self, rates, clock, auth_client):
        for i in range(2):
            assert auth_client.post("/products", {"name": f"p{i}"}, format="json").status_code == 201
        response = auth_client.post("/products", {"name": "one too many"}, format="json")
        assert_throttled(response)
        assert Product.objects.count() == 2

    def test_updates_and_deletes_count_too(self, rates, clock, auth_client):
        product = ProductFactory(name="Mug")
        auth_client.patch(f"/products/{product.id}", {"name": "Cup"}, format="json")
        auth_client.put(f"/products/{product.id}", {"name": "Bowl"}, format="json")
        assert_throttled(auth_client.delete(f"/products/{product.id}"))
        assert Product.objects.get(pk=product.id).name == "Bowl"

    def test_each_user_has_its_own_budget(self, rates, clock, auth_client):
        from rest_framework.test import APIClient

        for i in range(2):
            auth_client.post("/products", {"name": f"p{i}"}, format="json")
        other = APIClient()
        token = TokenFactory(user__username="other")
        token.user.user_permissions.add(*product_permissions("add"))
        other.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        assert other.post("/products", {"name": "mine"}, format="json").status_code == 201

    def test_writes_do_not_use_up_the_read_budget(self, rates, clock, auth_client, api_client):
        for i in range(2):
            auth_client.post("/products", {"name": f"p{i}"}, format="json")
        assert auth_client.get("/products").status_code == 200


class TestConfiguration:
    @pytest.mark.parametrize(
        ("raw", "rate"),
        [
            ("600/minute", "600/minute"),
            ("10/s", "10/second"),
            (" 5 / hour ", "5/hour"),
            ("1000/DAY", "1000/day"),
            ("off", None),
            ("", None),
        ],
    )
    def test_rates_read_from_the_environment(self, monkeypatch, raw, rate):
        monkeypatch.setenv("THROTTLE_WRITE_RATE", raw)
        assert read_rate("THROTTLE_WRITE_RATE", "120/minute") == rate

    def test_unset_means_the_default(self, monkeypatch):
        monkeypatch.delenv("THROTTLE_WRITE_RATE", raising=False)
        assert read_rate("THROTTLE_WRITE_RATE", "120/minute") == "120/minute"

    @pytest.mark.parametrize("raw", ["lots", "0/minute", "10/fortnight", "10", "-1/s", "1.5/s", "10/5m"])
    def test_bad_rates_name_the_variable(self, monkeypatch, raw):
        monkeypatch.setenv("THROTTLE_ANON_READ_RATE", raw)
        with pytest.raises(ConfigError, match="THROTTLE_ANON_READ_RATE must look like 600/minute"):
            read_rate("THROTTLE_ANON_READ_RATE", "600/minute")

    @pytest.mark.parametrize(
        ("variable", "value"),
        [
            ("THROTTLE_ANON_READ_RATE", "many"),
            ("THROTTLE_WRITE_RATE", "5/week"),
            ("THROTTLE_FAILED_AUTH_RATE", "often"),
            ("THROTTLE_CACHE_URL", "nope://"),
            ("TRUSTED_PROXY_NETWORKS", "10.0.0.0/33"),
            ("TRUSTED_PROXY_NETWORKS", "10.0.0.0/8,proxy.internal"),
            ("TRUSTED_PROXY_HOPS", "0"),
            # Replaced: it trusted X-Forwarded-For from any connection.
            ("THROTTLE_TRUSTED_PROXIES", "1"),
            ("ADMIN_LOGIN_FAILURE_LIMIT", "0"),
            ("ADMIN_LOGIN_LOCKOUT_MINUTES", "forever"),
        ],
    )
    def test_a_bad_value_stops_start_up_with_one_line(self, variable, value):
        env = {
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "aggregator.settings",
            "SECRET_KEY": "k",
            "CURRENCY": "EUR",
        }
        result = subprocess.run(
            [sys.executable, "manage.py", "check"],
            check=False,
            env={**env, variable: value},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1
        assert result.stderr.strip().startswith(f"configuration error: {variable}")
        assert "Traceback" not in result.stderr


class TestDefaults:
    """With the shipped rates, a consumer's normal work is not throttled (the test settings turn them off)."""

    @pytest.fixture
    def default_rates(self, settings, monkeypatch):
        from aggregator import config

        monkeypatch.delenv("THROTTLE_ANON_READ_RATE", raising=False)
        monkeypatch.delenv("THROTTLE_WRITE_RATE", raising=False)
        caches[THROTTLE_CACHE].clear()
        settings.THROTTLE_RATES = {
            "anon_read": config.read_rate("THROTTLE_ANON_READ_RATE", DEFAULT_ANON_READ_RATE),
            "write": config.read_rate("THROTTLE_WRITE_RATE", DEFAULT_WRITE_RATE),
        }
        yield
        caches[THROTTLE_CACHE].clear()

    def test_a_burst_of_creates_and_bulk_loads_is_not_throttled(self, default_rates, clock, auth_client):
        for i in range(300):
            assert auth_client.post("/products", {"name": f"P{i}"}, format="json").status_code == 201
        for _ in range(10):
            response = auth_client.post("/products/bulk", [{"name": "x"}] * 1000, format="json")
            assert response.status_code == 201  # a bulk request counts once
        assert Product.objects.count() == 10_300

    def test_anonymous_reads_are_still_limited_per_address(self, default_rates, clock, api_client):
        statuses = [api_client.get("/products").status_code for _ in range(601)]
        assert statuses[:600] == [200] * 600
        assert_throttled(api_client.get("/products"))
