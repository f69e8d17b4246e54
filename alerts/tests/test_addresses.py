"""Which addresses count as public: IPv6 forms that carry an IPv4 address are judged by it."""

import ipaddress

import pytest

from alerts.addresses import is_public


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("64:ff9b::808:808", True),  # NAT64 of 8.8.8.8
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        ("64:ff9b::7f00:1", False),  # NAT64 of 127.0.0.1
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 of 169.254.169.254
        ("64:ff9b:1::808:808", False),  # local-use NAT64: never
        ("::808:808", True),  # IPv4-compatible 8.8.8.8
        ("::10.0.0.1", False),
        ("::192.168.1.1", False),
        ("::ffff:8.8.8.8", True),  # IPv4-mapped
        ("::ffff:10.0.0.1", False),
        ("2002:808:808::1", True),  # 6to4 of 8.8.8.8, on every Python (3.13 calls 2002::/16 non-global)
        ("2002:a00:1::1", False),  # 6to4 of 10.0.0.1
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("2606:4700:4700::1111", True),
        ("::1", False),
        ("fd00::1", False),
        ("fe80::1", False),
        ("ff02::1", False),
        ("8.8.8.8", True),
        ("10.0.0.1", False),
    ],
)
def test_an_address_is_judged_by_the_ipv4_address_it_carries(address, public):
    assert is_public(ipaddress.ip_address(address)) is public
