"""Who the client is: the socket peer, unless that peer is a proxy we were told to trust.

``X-Forwarded-For`` is a header like any other, so anyone can send one; believing it from
anyone lets a client pick a fresh address per request and walk around the per-address rate
limit. Only a configured proxy's word counts, and then only up to the first hop it vouches for.
The gateway must run without the server's own proxy-header handling (uvicorn
``--no-proxy-headers``), or the peer seen here is already whatever the client claimed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(cidrs: Iterable[str]) -> list[IPNetwork]:
    """CIDRs or single addresses; a bad one raises ValueError (a startup error, not a guess)."""
    return [ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs if cidr.strip()]


def _address(text: str) -> IPAddress | None:
    """An address as proxies write it: bare, ``v4:port`` or ``[v6]:port``; None if garbage."""
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else text
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class TrustedProxies:
    def __init__(self, networks: list[IPNetwork]) -> None:
        self.networks = networks

    def trusts(self, address: IPAddress | None) -> bool:
        return address is not None and any(address in network for network in self.networks)

    def client_address(self, peer: str, forwarded_for: list[str]) -> str:
        """The rightmost hop not added by a trusted proxy (hops left of it are the client's own
        claims); the peer itself when it is not a trusted proxy or forwards nothing usable."""
        nearest = _address(peer)
        if not self.trusts(nearest) or not forwarded_for:
            return peer
        hops = [hop for value in forwarded_for for hop in value.split(",")]
        for hop in reversed(hops):
            address = _address(hop)
            if address is None:
                break  # a trusted proxy never writes garbage; stop at the last sure address
            nearest = address
            if not self.trusts(address):
                break
        return str(nearest)


class ClientAddressMiddleware:
    """Rewrites the scope's client to the address decided above, before anything reads it:
    rate limits, the forwarded ``X-Forwarded-For`` and the access log all see the same one."""

    def __init__(self, app: ASGIApp, trusted: TrustedProxies) -> None:
        self.app = app
        self.trusted = trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] == "http" and client and self.trusted.networks:
            forwarded_for = [
                value.decode("latin-1")
                for name, value in scope.get("headers", [])
                if name == b"x-forwarded-for"
            ]
            address = self.trusted.client_address(client[0], forwarded_for)
            if address != client[0]:
                scope["client"] = (address, 0)
        await self.app(scope, receive, send)
