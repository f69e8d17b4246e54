"""The client's address, as throttling and the admin's lockout (django-axes) count it.

X-Forwarded-For is anyone's to write, so it is read only when the connection itself comes from a
configured proxy (`TRUSTED_PROXY_NETWORKS`). Then the address is the one that many hops in
(`REST_FRAMEWORK["NUM_PROXIES"]`, from `TRUSTED_PROXY_HOPS`), exactly as DRF's throttles read it;
from anywhere else the connection's own address counts and the header is ignored.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings
from rest_framework.throttling import BaseThrottle

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    # Settings are read on every request (tests change them); parsing them is done once per value.
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _address(raw: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(raw.strip())
    except ValueError:
        return None
    # A dual-stack socket reports an IPv4 peer as ::ffff:a.b.c.d; networks are written as IPv4.
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def from_trusted_proxy(remote_addr: str) -> bool:
    """Whether the connection's peer is one of the configured proxies."""
    entries = settings.TRUSTED_PROXY_NETWORKS
    if not entries:
        return False
    address = _address(remote_addr)
    return address is not None and any(address in network for network in _networks(tuple(entries)))


def client_address(request) -> str:
    """The address a request counts for: forwarded only through a trusted proxy, else the peer's.

    Takes a Django HttpRequest or a DRF Request (both have `META`).
    """
    remote_addr = request.META.get("REMOTE_ADDR", "")
    if not from_trusted_proxy(remote_addr):
        return remote_addr
    forwarded = BaseThrottle().get_ident(request)
    # What a proxy appends is an address; anything else (more hops configured than there are
    # proxies, so a client's own text is reached) counts as the proxy's connection.
    return forwarded if _address(forwarded) is not None else remote_addr
