"""Slots: caps on what a client holds at once; counts never pass the limit, zeros forgotten."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from socialtrading.graphql.slots import Slots


def test_a_key_holds_at_most_its_limit_and_gets_slots_back() -> None:
    slots = Slots()
    assert [slots.acquire("a", 2) for _ in range(3)] == [True, True, False]
    assert slots.acquire("b", 2)  # each key has its own count
    slots.release("a")
    assert slots.acquire("a", 2)
    assert not slots.acquire("a", 2)


@given(
    st.lists(st.tuples(st.booleans(), st.sampled_from("abc")), max_size=200),
    st.integers(min_value=1, max_value=4),
)
def test_counts_follow_what_is_held_and_keys_at_zero_are_forgotten(
    steps: list[tuple[bool, str]], limit: int
) -> None:
    slots = Slots()
    held = {"a": 0, "b": 0, "c": 0}
    for take, key in steps:
        if take:
            assert slots.acquire(key, limit) == (held[key] < limit)
            held[key] = min(limit, held[key] + 1)
        elif held[key]:
            slots.release(key)
            held[key] -= 1
        assert slots.held(key) == held[key] <= limit
    assert len(slots) == sum(1 for count in held.values() if count)
