"""The client's address behind the load balancer.

Rate limits and the audit trail key on `REMOTE_ADDR`. Behind a TLS-terminating load balancer
that is the balancer's address for every request, so one province-wide budget (e.g. 120 logins
per 10 minutes) would lock everybody out in the release hour. When the direct peer is one of
`ZIKAO_TRUSTED_PROXIES` (IP addresses or networks), `REMOTE_ADDR` becomes the nearest address in
`X-Forwarded-For` that is not itself a trusted proxy. With no trusted proxies configured (the
default) the header is ignored: a client cannot choose its own address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpRequest, HttpResponse

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: list[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(value.strip(), strict=False) for value in values if value.strip())


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def client_address(remote_addr: str, forwarded_for: str, trusted: tuple[Network, ...]) -> str:
    """The client's address: `remote_addr` unless it is a trusted proxy, then the rightmost
    address of `forwarded_for` that is not a trusted proxy (malformed entries end the walk)."""
    peer = _address(remote_addr)
    if peer is None or not any(peer in net for net in trusted):
        return remote_addr
    for hop in reversed([h for h in forwarded_for.split(",") if h.strip()]):
        address = _address(hop)
        if address is None:
            break
        if not any(address in net for net in trusted):
            return str(address)
    return remote_addr


class ClientAddressMiddleware:
    """Sets REMOTE_ADDR to the client's address when the request came through a trusted proxy."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self.trusted = parse_networks(getattr(settings, "ZIKAO_TRUSTED_PROXIES", []))
        if not self.trusted:
            raise MiddlewareNotUsed

    def __call__(self, request: HttpRequest) -> HttpResponse:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            request.META["REMOTE_ADDR"] = client_address(
                request.META.get("REMOTE_ADDR", ""), forwarded, self.trusted
            )
        return self.get_response(request)
