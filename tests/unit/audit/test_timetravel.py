"""The search for a cut's version: the last version whose key is within the bound."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import given
from hypothesis import strategies as st

from socialtrading.audit.timetravel import PROBES, last_within


@given(
    steps=st.lists(st.integers(min_value=0, max_value=3), max_size=2_000),
    bound=st.integers(min_value=-1, max_value=6_500),
)
def test_the_search_finds_what_a_scan_finds_with_few_probes(steps: list[int], bound: int) -> None:
    keys = []  # keys never decrease with the version (ties included)
    total = 0
    for step in steps:
        total += step
        keys.append(total)
    asked: list[int] = []

    def read(versions: Sequence[int]) -> dict[int, int]:
        assert 0 < len(versions) <= PROBES
        assert all(1 <= version <= len(keys) for version in versions)
        asked.append(len(versions))
        return {version: keys[version - 1] for version in versions}

    expected = max((v for v, key in enumerate(keys, 1) if key <= bound), default=0)
    assert last_within(len(keys), read, bound) == expected
    assert len(asked) <= 4  # 16 probes a read: 2,000 versions in 3 reads, 65,536 in 4


def test_no_versions_need_no_read() -> None:
    def read(versions: Sequence[int]) -> dict[int, int]:
        raise AssertionError("nothing to read")

    assert last_within(0, read, 10) == 0
