"""The client address that throttling and the admin's lockout count: forwarded only through a trusted proxy."""

import pytest
from django.test import RequestFactory

from aggregator.client_address import client_address


def request_from(remote_addr: str, forwarded: str | None = None):
    headers = {} if forwarded is None else {"HTTP_X_FORWARDED_FOR": forwarded}
    return RequestFactory().get("/products", REMOTE_ADDR=remote_addr, **headers)


@pytest.fixture
def proxies(settings):
    """proxies(networks, hops=1): trust X-Forwarded-For from these networks, `hops` entries in."""

    def configure(networks: list[str], hops: int = 1):
        settings.TRUSTED_PROXY_NETWORKS = networks
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": hops}

    return configure


def test_by_default_the_header_is_ignored():
    assert client_address(request_from("198.51.100.5", "203.0.113.7")) == "198.51.100.5"


def test_by_default_the_header_is_ignored_even_from_loopback():
    assert client_address(request_from("127.0.0.1", "203.0.113.7")) == "127.0.0.1"


@pytest.mark.parametrize(
    ("networks", "remote_addr"),
    [
        (["10.0.0.0/8"], "10.20.30.40"),
        (["10.0.0.5"], "10.0.0.5"),
        (["192.168.0.0/16", "172.16.0.0/12"], "172.18.0.3"),
        (["fd00::/8"], "fd12:3456::1"),
        (["172.16.0.0/12"], "::ffff:172.18.0.3"),  # an IPv4 peer on a dual-stack socket
    ],
)
def test_from_a_trusted_proxy_the_address_it_appended_counts(proxies, networks, remote_addr):
    proxies(networks)
    assert client_address(request_from(remote_addr, "forged, 203.0.113.7")) == "203.0.113.7"


@pytest.mark.parametrize("remote_addr", ["10.0.0.6", "11.0.0.1", "198.51.100.5", "", "not-an-address", "fd12::1"])
def test_from_anywhere_else_the_connection_counts(proxies, remote_addr):
    proxies(["10.0.0.5", "172.16.0.0/12"])
    assert client_address(request_from(remote_addr, "203.0.113.7")) == remote_addr


def test_two_hops_take_the_address_two_entries_in(proxies):
    proxies(["10.0.0.0/8"], hops=2)
    # client -> edge proxy (appends the client) -> inner proxy 10.0.0.9 (appends the edge) -> us
    assert client_address(request_from("10.0.0.9", "forged, 203.0.113.7, 10.0.0.8")) == "203.0.113.7"


def test_a_proxy_request_without_the_header_counts_as_the_proxy(proxies):
    proxies(["10.0.0.0/8"])
    assert client_address(request_from("10.0.0.2")) == "10.0.0.2"


@pytest.mark.parametrize("forwarded", ["not-an-address", "", " , ", "203.0.113.7 extra", "999.1.1.1"])
def test_text_that_is_not_an_address_counts_as_the_proxy(proxies, forwarded):
    proxies(["10.0.0.0/8"])
    assert client_address(request_from("10.0.0.2", forwarded)) == "10.0.0.2"


def test_more_hops_than_entries_reach_the_first_entry_only_if_it_is_an_address(proxies):
    proxies(["10.0.0.0/8"], hops=3)
    assert client_address(request_from("10.0.0.2", "203.0.113.7")) == "203.0.113.7"
    assert client_address(request_from("10.0.0.2", "anything, 203.0.113.7")) == "10.0.0.2"
