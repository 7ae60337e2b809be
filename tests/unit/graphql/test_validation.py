"""The document limits: each fragment measured once, totals as if every spread were expanded.

Documents run through the real schema in-process, with a stub context whose reads find
nothing (so `markets` is empty and `me` is unauthenticated): only the limits matter here.
"""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

from graphql import GraphQLError, get_introspection_query, parse
from hypothesis import given, settings
from hypothesis import strategies as st

from socialtrading.graphql.schema import Limits, make_schema
from socialtrading.graphql.validation import Cost, operation_costs


def fragment_bomb(levels: int = 29) -> str:
    """The issue's 1.2 KB document standing for 2^levels fields."""
    fragments = ["fragment F0 on Market { symbol }"] + [
        f"fragment F{i} on Market {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, levels + 1)
    ]
    return f"{{ markets {{ ...F{levels} }} }}\n" + "\n".join(fragments)


LIMIT_CODES = {"DEPTH", "ALIASES", "SELECTIONS", "FRAGMENTS"}


async def _nothing(*_args: object) -> list[object]:
    return []


async def _nobody() -> None:
    return None


STUB_CONTEXT = SimpleNamespace(
    services=SimpleNamespace(read=_nothing), viewer=_nobody, token=None, request=None
)


def errors_of(query: str, limits: Limits | None = None) -> list[GraphQLError]:
    """The errors of running `query`: a refused document runs nothing (data is None)."""
    result = asyncio.run(make_schema(limits).execute(query, context_value=STUB_CONTEXT))
    errors = list(result.errors or [])
    if any((error.extensions or {}).get("code") in LIMIT_CODES for error in errors):
        assert result.data is None
    return errors


def codes(query: str, limits: Limits | None = None) -> list[object]:
    """The limits `query` breaks."""
    found = [(error.extensions or {}).get("code") for error in errors_of(query, limits)]
    return [code for code in found if code in LIMIT_CODES]


def test_the_fragment_bomb_is_refused_in_milliseconds_with_selections() -> None:
    query = fragment_bomb()
    assert len(query) < 1300
    schema = make_schema()
    started = time.perf_counter()
    result = schema.execute_sync(query)
    elapsed = time.perf_counter() - started
    assert [(error.extensions or {}).get("code") for error in result.errors or []] == ["SELECTIONS"]
    assert "too many fields (most: 2000" in (result.errors or [])[0].message
    assert elapsed < 0.5, f"validation took {elapsed:.3f} s"


def test_the_bomb_costs_what_its_expansion_would() -> None:
    [(_, cost)] = operation_costs(parse(fragment_bomb()))
    assert cost == Cost(depth=1, aliases=0, selections=1 + 2**29)


def test_depth_counts_through_fragments_and_carries_the_depth_code() -> None:
    # me > openOrders > account > ... > id: `id` at depth 9 (`me` is at 0)
    inline = "query Deep { me { " + "openOrders { account { " * 4 + "id" + " } }" * 4 + " } }"
    assert codes(inline, Limits(max_depth=9)) == []
    assert codes(inline, Limits(max_depth=8)) == ["DEPTH"]
    through_fragments = (
        "query Deep { me { ...A } }"
        " fragment A on Account { openOrders { account { ...B } } }"
        " fragment B on Account { openOrders { account { ...C } } }"
        " fragment C on Account { openOrders { account { openOrders { account { id } } } } }"
    )
    assert codes(through_fragments, Limits(max_depth=9)) == []
    errors = errors_of(through_fragments, Limits(max_depth=8))
    assert [(e.extensions or {}).get("code") for e in errors] == ["DEPTH"]
    assert errors[0].message == "'Deep' exceeds maximum operation depth of 8"


def test_aliases_in_a_fragment_count_at_each_use() -> None:
    fragment = "fragment Two on Market { a: symbol b: symbol }"
    assert codes(f"{{ markets {{ ...Two ...Two }} }} {fragment}", Limits(max_aliases=4)) == []
    assert codes(f"{{ markets {{ ...Two ...Two ...Two }} }} {fragment}", Limits(max_aliases=4)) == [
        "ALIASES"
    ]


def test_fragment_spreads_as_written_are_capped() -> None:
    spreads = " ".join("...S" for _ in range(6))
    query = f"{{ markets {{ {spreads} }} }} fragment S on Market {{ symbol }}"
    assert codes(query, Limits(max_fragment_spreads=6)) == []
    errors = errors_of(query, Limits(max_fragment_spreads=5))
    assert [(e.extensions or {}).get("code") for e in errors] == ["FRAGMENTS"]
    assert "6 fragment spreads" in errors[0].message


def test_a_fragment_cycle_is_graphqls_to_report_and_costs_nothing_here() -> None:
    query = (
        "{ markets { ...A } } fragment A on Market { symbol ...B } fragment B on Market { ...A }"
    )
    errors = errors_of(query)
    assert [error.message for error in errors] == [
        "Cannot spread fragment 'A' within itself via 'B'."
    ]
    [(_, cost)] = operation_costs(parse(query))
    assert cost.selections == 2  # markets, symbol: the cycle closes without recursing


def test_graphiqls_introspection_query_passes_the_limits_and_can_be_turned_off() -> None:
    query = get_introspection_query()
    result = make_schema().execute_sync(query)
    assert result.errors is None and result.data is not None
    refused = make_schema(introspection=False).execute_sync(query)
    assert refused.errors and "introspection has been disabled" in refused.errors[0].message
    # __typename is not introspection of the schema: it stays allowed
    assert make_schema(introspection=False).execute_sync("{ __typename }").data == {
        "__typename": "Query"
    }


def test_the_limits_rule_is_made_once_so_the_validation_cache_hits() -> None:
    from strawberry.extensions.validation_cache import _get_validate_cache

    schema = make_schema()
    cache: Any = _get_validate_cache(1024)  # the cache of schema.CACHE_SIZE entries
    schema.execute_sync(fragment_bomb())
    hits = cache.cache_info().hits
    assert codes(fragment_bomb()) == ["SELECTIONS"]  # another schema: its own rule
    schema.execute_sync(fragment_bomb())
    assert cache.cache_info().hits == hits + 1


# A random document of fragments over Market: fragment i selects fields, aliased fields and
# spreads of fragments j < i (a DAG, as graphql requires), and nested objects via `orderBook`
# is out of reach of Market, so nesting is by inline fragments.
_SELECTION: st.SearchStrategy[tuple[str, int | None]] = st.one_of(
    st.just(("field", None)),
    st.just(("alias", None)),
    st.integers(0, 5).map(lambda j: ("spread", j)),
    st.just(("inline", None)),
)


@st.composite
def _documents(draw: st.DrawFn) -> tuple[str, list[list[tuple[str, int | None]]]]:
    count = draw(st.integers(1, 6))
    bodies: list[list[tuple[str, int | None]]] = []
    for index in range(count):
        drawn = draw(st.lists(_SELECTION, min_size=1, max_size=5))
        body = [(kind, arg) for kind, arg in drawn if kind != "spread" or (arg or 0) < index]
        bodies.append(body or [("field", None)])
    return _render(bodies), bodies


def _render(bodies: list[list[tuple[str, int | None]]]) -> str:
    def selection(kind: str, arg: int | None, n: int) -> str:
        return {
            "field": "symbol",
            "alias": f"a{n}: symbol",
            "spread": f"...F{arg}",
            "inline": "... on Market { symbol }",
        }[kind]

    fragments = [
        f"fragment F{i} on Market {{ "
        + " ".join(selection(k, a, n) for n, (k, a) in enumerate(body))
        + " }"
        for i, body in enumerate(bodies)
    ]
    return f"{{ markets {{ ...F{len(bodies) - 1} }} }} " + " ".join(fragments)


def _expanded(bodies: list[list[tuple[str, int | None]]], index: int) -> tuple[int, int]:
    """(aliases, selections) of fragment `index`, expanded literally."""
    aliases = selections = 0
    for kind, arg in bodies[index]:
        if kind == "spread":
            inner = _expanded(bodies, arg or 0)
            aliases, selections = aliases + inner[0], selections + inner[1]
        else:
            aliases += kind == "alias"
            selections += 1
    return aliases, selections


@settings(max_examples=200, deadline=None)
@given(_documents())
def test_measured_costs_equal_the_literal_expansion(
    document: tuple[str, list[list[tuple[str, int | None]]]],
) -> None:
    text, bodies = document
    [(_, cost)] = operation_costs(parse(text))
    aliases, selections = _expanded(bodies, len(bodies) - 1)
    assert cost == Cost(depth=1, aliases=aliases, selections=selections + 1)
