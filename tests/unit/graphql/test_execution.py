"""The executor's short path for plain scalar fields answers exactly as graphql-core does."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from enum import Enum
from typing import Any

import pytest
import strawberry
from graphql import GraphQLResolveInfo
from strawberry.schema.config import StrawberryConfig

from socialtrading.graphql.execution import Executor
from socialtrading.graphql.scalars import SCALARS


@strawberry.enum
class Colour(Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Item:
    name: str
    price: Decimal
    count: int | None
    colour: Colour

    @strawberry.field
    def doubled(self) -> int:
        return 2 * (self.count or 0)


@strawberry.type
class Box:
    label: str
    items: list[Item]


GOOD = [
    Item(name="a", price=Decimal("1.50"), count=2, colour=Colour.RED),
    Item(name="b", price=Decimal("100"), count=None, colour=Colour.BLUE),
]


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return GOOD

    @strawberry.field
    async def later(self) -> list[Item]:
        return GOOD

    @strawberry.field
    def box(self) -> Box:
        return Box(label="box", items=GOOD)

    @strawberry.field
    def null_name(self) -> list[Item]:  # a non-null field without a value
        return [GOOD[0], Item(name=None, price=Decimal(1), count=1, colour=Colour.RED)]  # type: ignore[arg-type]

    @strawberry.field
    def bad_count(self) -> list[Item | None]:  # a value the Int scalar refuses
        return [Item(name="c", price=Decimal(1), count="many", colour=Colour.RED)]  # type: ignore[arg-type]

    @strawberry.field
    def bad_price(self) -> Item | None:
        return Item(name="d", price="1", count=1, colour=Colour.RED)  # type: ignore[arg-type]


def _schema(fast: bool) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        config=StrawberryConfig(scalar_map=SCALARS),
        execution_context_class=Executor if fast else None,
    )


FAST = _schema(True)
GENERAL = _schema(False)

QUERIES = [
    "{ items { name price count colour } }",
    "{ items { n: name p: price name colour doubled __typename } }",
    "{ box { label items { price ...F } } } fragment F on Item { count colour name }",
    "query($s: Boolean!) { items { name price @skip(if: $s) count @include(if: $s) } }",
    "{ items { name } box { items { count } } }",
    "{ nullName { name price } }",
    "{ nullName { price } items { name } }",
    "{ badCount { name count } }",
    "{ badPrice { name price } }",
]


def _answer(schema: strawberry.Schema, query: str) -> dict[str, Any]:
    result = schema.execute_sync(query, variable_values={"s": True})
    errors = [(error.message, error.path) for error in result.errors or []]
    return {"data": result.data, "errors": errors}


@pytest.mark.parametrize("query", QUERIES)
def test_the_short_path_answers_as_graphql_core(query: str) -> None:
    assert _answer(FAST, query) == _answer(GENERAL, query)


def test_async_resolvers_too() -> None:
    query = "{ later { name price count colour } items { name } }"
    fast = asyncio.run(FAST.execute(query))
    general = asyncio.run(GENERAL.execute(query))
    assert fast.errors is None and fast.data == general.data
    assert fast.data is not None
    assert fast.data["later"][0] == {"name": "a", "price": "1.5", "count": 2, "colour": "RED"}


def test_errors_keep_their_paths() -> None:
    answer = _answer(FAST, "{ nullName { name price } }")
    assert answer["data"] is None
    assert answer["errors"] == [
        ("Cannot return null for non-nullable field Item.name.", ["nullName", 1, "name"])
    ]


def test_plain_fields_take_the_short_path(monkeypatch: pytest.MonkeyPatch) -> None:
    resolved: list[str] = []
    general = Executor.build_resolve_info

    def spy(self: Executor, *args: Any) -> GraphQLResolveInfo[Any]:
        info = general(self, *args)
        resolved.append(info.field_name)
        return info

    monkeypatch.setattr(Executor, "build_resolve_info", spy)
    FAST.execute_sync("{ items { name price count colour } }")
    assert resolved == ["items"]  # not one per plain field of each item
    resolved.clear()
    FAST.execute_sync("{ items { name doubled } }")
    assert resolved == ["items", "doubled", "doubled"]  # a resolver: the general way
