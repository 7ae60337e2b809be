"""Who is calling: the client address of an HTTP request or a WebSocket.

The address is the socket peer, unless that peer is one of the configured reverse proxies
(`SOCIALTRADING_TRUSTED_PROXIES`): then it is the right-most address of `X-Forwarded-For`
that is not a trusted proxy. Each proxy appends the address it saw, so the entries left of
the last untrusted one were written by the client and prove nothing. Every limit keyed by
address (rate limits, WebSocket connections, anonymous subscriptions) asks this module,
and counts an IPv6 client by its /64 network, the block one subscriber usually holds whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address, IPv6Address, IPv6Network, ip_address, ip_network

from starlette.requests import HTTPConnection

UNKNOWN = "unknown"  # no peer (a test client, a Unix socket)


class TrustedProxies:
    """A set of IP networks whose `X-Forwarded-For` is believed."""

    def __init__(self, networks: Iterable[str] = ()) -> None:
        self._networks = tuple(ip_network(network, strict=False) for network in networks)

    def __bool__(self) -> bool:
        return bool(self._networks)

    def trusts(self, address: str) -> bool:
        """Whether `address` is one of the proxies (False for anything not an IP address)."""
        parsed = _parse(address)
        return parsed is not None and any(parsed in network for network in self._networks)


def client_address(connection: HTTPConnection, proxies: TrustedProxies) -> str:
    """The caller's IP address, as text (`unknown` when the server was not told)."""
    peer = connection.client.host if connection.client is not None else UNKNOWN
    if not proxies or not proxies.trusts(peer):
        return peer
    hops = [
        hop.strip()
        for header in connection.headers.getlist("x-forwarded-for")
        for hop in header.split(",")
    ]
    address = peer
    for hop in reversed(hops):
        if _parse(hop) is None:
            break  # not written by a proxy of ours: the last trusted hop is all we know
        address = hop
        if not proxies.trusts(hop):
            break
    return address


def address_key(address: str) -> str:
    """What limits count an address as: itself, or for IPv6 its /64 network."""
    parsed = _parse(address)
    if isinstance(parsed, IPv6Address) and parsed.ipv4_mapped is None:
        return str(IPv6Network((parsed, 64), strict=False))
    return address


def _parse(text: str) -> IPv4Address | IPv6Address | None:
    try:
        return ip_address(text)
    except ValueError:
        return None
