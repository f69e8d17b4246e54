"""Which webhook URLs we call: http(s) only, and (unless WEBHOOK_ALLOW_PRIVATE_NETWORKS) only
hosts whose every address is public, so an endpoint cannot point the worker at our own network.

Checked at creation and again at each delivery, where the request then goes to the very address
that was checked (alerts.client), so a name that resolves elsewhere later (DNS rebinding) cannot
switch it.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from alerts.models import URL_MAX_LENGTH


class UnsafeUrl(ValueError):
    """The URL is not one we call; the message says why and is safe to show its owner."""


class UnresolvedHost(UnsafeUrl):
    """The host has no address (now)."""


@dataclass(frozen=True, slots=True)
class Target:
    scheme: str
    host: str  # as written (for Host and TLS)
    port: int
    path: str  # path and query, at least "/"


def parse_url(url: str) -> Target:
    if not url or len(url) > URL_MAX_LENGTH:
        raise UnsafeUrl(f"Must be an http or https URL of at most {URL_MAX_LENGTH} characters.")
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in url):
        raise UnsafeUrl("Must not contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeUrl("Not a valid URL.") from None
    if parts.scheme not in {"http", "https"}:
        raise UnsafeUrl("Only http and https URLs are allowed.")
    if not parts.hostname:
        raise UnsafeUrl("The URL needs a host.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("Credentials in the URL are not allowed.")
    if parts.fragment:
        raise UnsafeUrl("A fragment is not allowed.")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(
        scheme=parts.scheme,
        host=parts.hostname,
        port=port or (443 if parts.scheme == "https" else 80),
        path=path,
    )


# IPv6 addresses that carry an IPv4 address a router or translator may deliver to: judged by that
# IPv4 address, whatever this Python's `ipaddress` thinks of the IPv6 prefix (its tables differ
# between versions, e.g. 6to4 became non-global in 3.12.4/3.13).
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052 well-known prefix: the IPv4 in the last 32 bits
_SIX_TO_FOUR = ipaddress.ip_network("2002::/16")  # RFC 3056: the IPv4 in bits 16-47
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # RFC 4291 (deprecated): the IPv4 in the last 32 bits
# RFC 8215 local-use NAT64: where the IPv4 address sits depends on the operator's prefix length, and
# it is for local networks by definition, so it is never called.
_LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if address in _LOCAL_NAT64:
            return False
        # An IPv4-mapped, IPv4-compatible, NAT64 or 6to4 address is judged by the IPv4 address inside.
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif address in _NAT64 or address in _IPV4_COMPATIBLE:
            address = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        elif address in _SIX_TO_FOUR:
            address = address.sixtofour
    return address.is_global and not address.is_multicast


def resolve(target: Target, *, allow_private: bool) -> str:
    """The address to connect to for `target`: every address the host has must be allowed."""
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (UnicodeError, OSError):  # socket.gaierror is an OSError
        raise UnresolvedHost(f"The host {target.host!r} does not resolve.") from None
    addresses = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]  # without an IPv6 zone
    if not addresses:
        raise UnresolvedHost(f"The host {target.host!r} does not resolve.")
    # The message names no address: it must not tell a caller what our internal names resolve to.
    if not allow_private and not all(is_public(address) for address in addresses):
        raise UnsafeUrl(
            f"The host {target.host!r} resolves to a loopback, private, link-local, multicast or reserved address."
        )
    return str(addresses[0])


def check_url(url: str, *, allow_private: bool) -> None:
    """Parse `url` and check where it leads; raises UnsafeUrl.

    A name that does not resolve yet is accepted (its DNS may come later; each delivery checks
    again); one that resolves to an address we do not call is not.
    """
    try:
        resolve(parse_url(url), allow_private=allow_private)
    except UnresolvedHost:
        pass
