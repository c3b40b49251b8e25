"""Where a request comes from: one place for the client address the audit log records, the
limits on failed logins count and the terminal's trail names.

Behind a reverse proxy the peer is the proxy; the address it saw is in `X-Forwarded-For`. That
header is anyone's to write, so it is believed only from a peer in TRUSTED_PROXIES, and read
from the right: each trusted hop appended the address it saw, and the first untrusted one is
the client (the left-most entries are whatever the client itself sent).
"""

from __future__ import annotations

import ipaddress
from functools import cache

from django.conf import settings
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@cache
def trusted_proxies(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def ip_address(value: str) -> Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def proxy_trusted(address: Address) -> bool:
    networks = trusted_proxies(tuple(settings.TRUSTED_PROXIES))
    return any(address in network for network in networks)


def client_address(request: HttpRequest) -> str | None:
    """The client's IP address; None when there is none (a Unix socket peer, or a trusted
    proxy's header that names no address)."""
    address = ip_address(request.META.get("REMOTE_ADDR") or "")
    if address is None or not proxy_trusted(address):
        return None if address is None else str(address)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    for hop in reversed([hop for hop in forwarded.split(",") if hop.strip()]):
        hop_address = ip_address(hop)
        if hop_address is None:
            return None
        if not proxy_trusted(hop_address):
            return str(hop_address)
        address = hop_address
    return str(address)


def ratelimit_client_address(request: HttpRequest) -> str:
    """RATELIMIT_IP_META_KEY: django-ratelimit needs an address; without one every such caller
    shares the counter of the unspecified address."""
    return client_address(request) or "0.0.0.0"  # noqa: S104
