"""Error messages repeat at most a short prefix of what a client sent."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from socialtrading.graphql.errors import ECHO_CHARS, MAX_MESSAGE_CHARS, clip, shorten

_TEXT = st.text(st.characters(exclude_characters="'\""), min_size=ECHO_CHARS + 1)


def test_clip_keeps_short_values_and_cuts_long_ones() -> None:
    assert clip("BTC-USD") == "BTC-USD"
    assert clip("x" * 1000) == "x" * ECHO_CHARS + "..."
    assert clip(12345, limit=3) == "123..."


@given(_TEXT, st.sampled_from(["'", '"']))
def test_a_long_quoted_value_is_cut_to_its_prefix(value: str, quote: str) -> None:
    message = f"Value {quote}{value}{quote} does not exist in 'Side' enum."
    short = shorten(message)
    assert f"{quote}{value[:ECHO_CHARS]}...{quote}" in short
    assert short.endswith(" does not exist in 'Side' enum.")
    # exactly the value's tail is cut ("..." stands for it): nothing more of it is echoed
    assert len(short) == len(message) - (len(value) - ECHO_CHARS) + len("...")


@given(st.text(max_size=5000))
def test_no_message_grows_past_the_cap(message: str) -> None:
    short = shorten(message)
    assert len(short) <= MAX_MESSAGE_CHARS + 3
    if len(message) <= ECHO_CHARS:
        assert short == message


def test_graphql_cores_messages_with_short_values_are_left_alone() -> None:
    message = "Variable '$i' has invalid value at .side: Value 'BYU' does not exist in 'Side' enum."
    assert shorten(message) == message
