"""Settings read from the environment: the list of trusted proxies."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from socialtrading.infra.settings import Settings


def test_trusted_proxies_are_a_comma_separated_list_of_addresses_and_networks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOCIALTRADING_TRUSTED_PROXIES", " 10.0.0.1, 10.1.0.0/16,,::1 ")
    assert Settings().trusted_proxies == ["10.0.0.1", "10.1.0.0/16", "::1"]
    monkeypatch.setenv("SOCIALTRADING_TRUSTED_PROXIES", "")
    assert Settings().trusted_proxies == []


def test_a_trusted_proxy_that_is_not_an_address_stops_start_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOCIALTRADING_TRUSTED_PROXIES", "10.0.0.1, proxy.internal")
    with pytest.raises(ValidationError, match=r"proxy\.internal"):
        Settings()
