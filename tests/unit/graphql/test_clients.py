"""The client address: the socket peer, or X-Forwarded-For from a trusted proxy only."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from socialtrading.graphql.clients import UNKNOWN, TrustedProxies, address_key, client_address


def request(peer: str | None, *forwarded: str) -> Request:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    client = None if peer is None else (peer, 40000)
    return Request({"type": "http", "headers": headers, "client": client})


def test_without_trusted_proxies_the_peer_is_the_client_whatever_it_forwards() -> None:
    assert client_address(request("203.0.113.9", "10.9.9.9"), TrustedProxies()) == "203.0.113.9"


def test_a_peer_that_is_not_a_trusted_proxy_is_the_client() -> None:
    proxies = TrustedProxies(["10.0.0.0/8"])
    assert client_address(request("203.0.113.9", "198.51.100.1"), proxies) == "203.0.113.9"


def test_behind_a_trusted_proxy_the_right_most_untrusted_hop_is_the_client() -> None:
    proxies = TrustedProxies(["10.0.0.1", "10.1.0.0/16"])
    # the client claims 1.2.3.4; our edge proxy saw 198.51.100.7; an inner proxy saw the edge
    forwarded = request("10.0.0.1", "1.2.3.4, 198.51.100.7", "10.1.2.3")
    assert client_address(forwarded, proxies) == "198.51.100.7"


def test_a_trusted_proxy_without_forwarded_for_is_the_client() -> None:
    assert client_address(request("10.0.0.1"), TrustedProxies(["10.0.0.1"])) == "10.0.0.1"


def test_only_proxies_in_the_chain_and_garbage_after_them_stop_at_what_is_known() -> None:
    proxies = TrustedProxies(["10.0.0.0/8"])
    assert client_address(request("10.0.0.1", "10.0.0.2, 10.0.0.3"), proxies) == "10.0.0.2"
    assert client_address(request("10.0.0.1", "evil, 10.0.0.3"), proxies) == "10.0.0.3"


def test_ipv6_and_no_peer() -> None:
    proxies = TrustedProxies(["::1"])
    assert client_address(request("::1", "2001:db8::5"), proxies) == "2001:db8::5"
    assert client_address(request(None, "2001:db8::5"), proxies) == UNKNOWN


def test_a_proxy_list_with_a_bad_entry_is_refused() -> None:
    with pytest.raises(ValueError, match="nope"):
        TrustedProxies(["nope"])


def test_limits_count_an_ipv6_client_by_its_64_network() -> None:
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::9")
    assert address_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("198.51.100.7") == "198.51.100.7"
    assert address_key("::ffff:198.51.100.7") == "::ffff:198.51.100.7"
    assert address_key(UNKNOWN) == UNKNOWN
