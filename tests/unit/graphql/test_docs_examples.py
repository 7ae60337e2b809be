"""The GraphQL examples of docs/graphql.md's social, copy trading, statistics and compliance
sections are valid against the schema."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from graphql import parse, validate

from socialtrading.graphql.schema import make_schema

DOC = Path(__file__).resolve().parents[3] / "docs" / "graphql.md"


def _social_examples() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## Social\n") : text.index("## Subscriptions\n")]
    documents = []
    for block in re.findall(r"```graphql\n(.*?)```", section, flags=re.DOTALL):
        # a block holds one operation, or one per line (each starting at the margin)
        starts = [m.start() for m in re.finditer(r"^(query|mutation|subscription)\b", block, re.M)]
        bounds = [*starts, len(block)]
        documents += [
            block[a:b].replace("…", "00000000-0000-0000-0000-000000000000")
            for a, b in itertools.pairwise(bounds)
        ]
    return documents


EXAMPLES = _social_examples()


def test_the_social_section_has_examples() -> None:
    assert len(EXAMPLES) >= 20


@pytest.mark.parametrize("document", EXAMPLES)
def test_a_social_example_is_valid(document: str) -> None:
    schema = make_schema()._schema
    assert validate(schema, parse(document)) == []
