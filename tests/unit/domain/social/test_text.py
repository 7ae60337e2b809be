"""The social text rules: NFC, limits, control characters, cashtags and mentions."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from socialtrading.domain.errors import InvalidCommand
from socialtrading.domain.social import text


def test_a_body_is_stored_in_nfc_and_measured_after_it() -> None:
    decomposed = "e\u0301" * 2_000  # 4,000 code points, 2,000 after NFC
    assert text.body(decomposed, 2_000) == "\u00e9" * 2_000
    with pytest.raises(InvalidCommand) as raised:
        text.body("x" * 2_001, 2_000)
    assert raised.value.code == "invalid_body"


@pytest.mark.parametrize("bad", ["", "   ", "\n\t", "a\x00b", "a\x1bb", "a\u202eb", "a\x85b"])
def test_empty_bodies_and_control_characters_are_refused(bad: str) -> None:
    with pytest.raises(InvalidCommand) as raised:
        text.body(bad, 2_000)
    assert raised.value.code == "invalid_body"


def test_line_feeds_and_tabs_stay_in_bodies_and_crlf_becomes_lf() -> None:
    assert text.body("long $BTC\r\n\tsee chart", 100) == "long $BTC\n\tsee chart"


def test_a_line_takes_no_control_character() -> None:
    with pytest.raises(InvalidCommand) as raised:
        text.line("Alice\nBob", 64, "invalid_display_name", "display name")
    assert raised.value.code == "invalid_display_name"


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/a.png",
        "javascript:alert(1)",
        "https://",
        "https://exa mple.com/a.png",
        "https://example.com/" + "a" * 500,
        "//example.com/a.png",
    ],
)
def test_avatar_urls_are_https_and_bounded(url: str) -> None:
    with pytest.raises(InvalidCommand) as raised:
        text.avatar_url(url)
    assert raised.value.code == "invalid_avatar_url"


def test_an_empty_avatar_url_clears_it() -> None:
    assert text.avatar_url("") is None
    assert text.avatar_url("https://cdn.example.com/me.png") == "https://cdn.example.com/me.png"


def test_a_bio_is_at_most_280_characters() -> None:
    assert text.bio("") == ""
    with pytest.raises(InvalidCommand) as raised:
        text.bio("b" * 281)
    assert raised.value.code == "invalid_bio"


def test_cashtags_and_mentions_are_parsed_distinct_in_order() -> None:
    body = "Long $btc and $ETH, not $BTC again; cc @Alice @bob_2 @alice. Price $5 x@carol a$DOGE"
    assert text.cashtags(body) == ["BTC", "ETH"]
    assert text.mentions(body) == ["alice", "bob_2"]


def test_cashtags_and_mentions_are_capped() -> None:
    body = " ".join(f"$T{i} @user{i:03d}" for i in range(30))
    assert len(text.cashtags(body)) == text.MAX_CASHTAGS
    assert len(text.mentions(body)) == text.MAX_MENTIONS


@given(st.text(max_size=300))
def test_a_valid_body_is_a_fixed_point(raw: str) -> None:
    try:
        once = text.body(raw, 2_000)
    except InvalidCommand:
        return
    assert text.body(once, 2_000) == once
    assert unicodedata.is_normalized("NFC", once)
    assert 1 <= len(once) <= 2_000


@given(st.text(max_size=300))
def test_tags_come_from_the_text(raw: str) -> None:
    for tag in text.cashtags(raw):
        assert tag.isupper() or tag.isalnum()
        assert f"${tag}".casefold() in raw.casefold()
    for handle in text.mentions(raw):
        assert f"@{handle}" in raw.casefold()
