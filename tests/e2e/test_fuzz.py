"""Schema-driven fuzzing of the whole GraphQL API (schemathesis), bounded, then the ledger.

Every query and mutation of `schema.graphql` gets generated documents: arguments of every
type, decimals from the exotic (NaN, exponents, 40 digits, 2**64 ticks) to the plausible,
as the demo's trader and as an admin. No answer may be a server error or an unexpected
("Internal error") GraphQL error, and afterwards every asset's total over all accounts must
equal what was deposited minus what was withdrawn, read back from the log.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.core.result import Ok
from schemathesis.graphql import nodes

from socialtrading.domain.account import Account
from socialtrading.infra.decoding import EventDecoder
from socialtrading.infra.settings import Settings
from socialtrading.infra.store import open_store
from tests.e2e.server import Server, running

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = 12  # per operation and caller: ~22 operations x 2 callers, a few seconds each

_PLAUSIBLE = st.sampled_from(
    ["60050", "0.01", "1", "100", "0.0001", "59990.5", "2500", "1000000", "0"]
)
_EXTREME = st.sampled_from(
    [
        "92233720368547758.08",  # 2**63 ticks at a 0.01 tick
        "184467440737095516.17",  # above 2**64 ticks
        "123456789012345678901234567890",
        "1e30",
        "-1",
        "NaN",
        "Infinity",
        "0.000000000000000000000001",
        "1" * 400,
    ]
)
DECIMALS = st.one_of(
    _PLAUSIBLE,
    _EXTREME,
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.integers().map(str),
    st.text(max_size=24),
)

schemathesis.graphql.scalar("Decimal", DECIMALS.map(nodes.String))
SCHEMA = schemathesis.graphql.from_file((ROOT / "schema.graphql").read_text(encoding="utf-8"))


def _labels() -> list[str]:
    labels = []
    for result in SCHEMA.get_all_operations():
        assert isinstance(result, Ok), result
        labels.append(result.ok().label)
    return sorted(labels)


LABELS = _labels()


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Settings]]:
    """A demo server on its own SQLite store, with rate limits out of the way."""
    directory = tmp_path_factory.mktemp("fuzz")
    settings = Settings(
        store=f"sqlite:///{directory}/events.db",
        mutation_rate=1e6,
        mutation_burst=1_000_000,
        query_rate=1e6,
        query_burst=1_000_000,
    )
    with running(settings, demo=True) as server:
        yield server, settings


def _callers(server: Server) -> dict[str, str]:
    tokens: dict[str, str] = server.app.state.demo_tokens
    return {"trader": tokens["alice"], "admin": tokens["demo_admin"]}


@pytest.mark.parametrize("label", LABELS)
def test_fuzzed_operation_never_fails_the_server(
    fuzzed: tuple[Server, Settings], label: str
) -> None:
    server, _ = fuzzed
    operation = SCHEMA.find_operation_by_label(label)
    assert operation is not None
    callers = _callers(server)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(), caller=st.sampled_from(sorted(callers)))
    def run(case: Any, caller: str) -> None:
        response = server.http.post(
            "/graphql",
            json={"query": case.body},
            headers={"Authorization": f"Bearer {callers[caller]}"},
        )
        assert response.status_code < 500, (case.body, response.text[:500])
        assert response.status_code != 429, "the fuzzing must not be rate limited"
        body = response.json()
        assert "data" in body or "errors" in body, body
        for error in body.get("errors") or []:
            assert error.get("message") != "Internal error", (case.body, error)

    run()


def test_ledger_is_exact_after_fuzzing(fuzzed: tuple[Server, Settings]) -> None:
    """Run last in this module: every asset's total equals deposits minus withdrawals."""
    _, settings = fuzzed
    store = open_store(settings)
    try:
        moved: dict[str, Decimal] = defaultdict(Decimal)
        decoder = EventDecoder(store.mapper)
        after = 0
        while rows := store.read(after, 10_000):
            for _, event in decoder.decode(rows):
                if isinstance(event, Account.FundsDeposited):
                    moved[event.asset] += event.amount
                elif isinstance(event, Account.FundsWithdrawn):
                    moved[event.asset] -= event.amount
            after = rows[-1].id
        held: dict[str, Decimal] = defaultdict(Decimal)
        for created in store.aggregates():
            account: object = store.repository.get(created.id)
            if not isinstance(account, Account):
                continue
            for asset in account.assets():
                held[asset] += account.available(asset) + account.reserved(asset)
                assert account.available(asset) >= 0 and account.reserved(asset) >= 0
        assert moved, "the fuzzing deposited nothing"
        assert {a: v for a, v in held.items() if v} == {a: v for a, v in moved.items() if v}
    finally:
        store.close()
