"""API tokens on the write side: labels, expiry, revocation, and events stored before them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import orjson
import pytest
from eventsourcing.persistence import StoredEvent
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from socialtrading.commands.models import IssueToken, RevokeToken
from socialtrading.domain.account import Account
from socialtrading.domain.errors import Refused
from socialtrading.domain.ids import SYSTEM_ACTOR
from socialtrading.domain.time import to_datetime
from socialtrading.domain.tokens import hash_token, new_token, token_id
from socialtrading.infra.decoding import EventDecoder
from socialtrading.infra.store import EventStore, Row
from tests.unit.commands.test_handlers import ALICE, BOB, ROOT, Desk, trading_desk


def _issue(desk: Desk, actor: UUID, account: UUID, n: int, **options: Any) -> str:
    """Issue token number `n` to `account`; return its public id."""
    token_hash = hash_token(f"token-{n}")
    outcome = desk.run(
        IssueToken(
            command_id=f"issue-{n}",
            actor=actor,
            account=account,
            token_hash=token_hash,
            **options,
        )
    )
    assert outcome.accepted
    return token_id(token_hash)


def _refusal(desk: Desk, command: RevokeToken | IssueToken) -> tuple[str, str]:
    desk.settle()
    before = desk.fingerprint()
    with pytest.raises(Refused) as raised:
        desk.run(command)
    assert desk.fingerprint() == before
    assert desk.settle() == []
    return raised.value.code, raised.value.message


def test_a_token_id_is_public_stable_and_reveals_neither_the_token_nor_its_hash() -> None:
    token, token_hash = new_token()
    public = token_id(token_hash)
    assert public == token_id(token_hash)
    assert len(public) == 16 and int(public, 16) >= 0
    assert public not in token and public not in token_hash


def test_a_label_and_an_expiry_are_stored_with_the_token() -> None:
    desk = trading_desk()
    expires = to_datetime(desk.ts + 1_000_000)
    _issue(desk, ALICE, ALICE, 1, label="laptop", expires_at=expires)
    (event,) = [e for e in desk.settle() if isinstance(e, Account.TokenIssued)]
    assert (event.label, event.expires_at) == ("laptop", expires)


@pytest.mark.parametrize("ahead", [0, -1, -(10**9)])
def test_an_expiry_not_after_the_sequencer_time_is_refused(ahead: int) -> None:
    desk = trading_desk()
    at = to_datetime(desk.ts + 1 + ahead)  # the command runs at desk.ts + 1
    command = IssueToken(
        command_id="t", actor=ALICE, account=ALICE, token_hash="cd" * 32, expires_at=at
    )
    assert _refusal(desk, command)[0] == "invalid_expiry"


@pytest.mark.parametrize("label", ["", "x" * 65, "a\nb", "\x00"])
def test_a_bad_label_is_invalid_input(label: str) -> None:
    with pytest.raises(ValidationError):
        IssueToken(command_id="t", actor=ALICE, account=ALICE, token_hash="cd" * 32, label=label)


def test_revoking_an_own_token_stores_token_revoked_and_it_is_no_longer_valid() -> None:
    desk = trading_desk()
    kept = _issue(desk, ALICE, ALICE, 1)
    gone = _issue(desk, ALICE, ALICE, 2)
    desk.settle()
    outcome = desk.run(RevokeToken(command_id="r", actor=ALICE, token_id=gone))
    assert outcome.accepted and outcome.account_id == ALICE
    (event,) = desk.settle()
    assert isinstance(event, Account.TokenRevoked)
    assert (event.token_id, event.by) == (gone, str(ALICE))
    assert set(desk.state.accounts[ALICE].valid_tokens(desk.ts)) == {kept}
    # revoked once: a second revocation finds no valid token
    again = RevokeToken(command_id="r2", actor=ALICE, token_id=gone)
    assert _refusal(desk, again)[0] == "unknown_token"


def test_someone_elses_token_is_answered_exactly_as_an_unknown_one() -> None:
    desk = trading_desk()
    bobs = _issue(desk, BOB, BOB, 1)
    theirs = _refusal(desk, RevokeToken(command_id="r", actor=ALICE, token_id=bobs))
    named = _refusal(desk, RevokeToken(command_id="r", actor=ALICE, token_id=bobs, account=BOB))
    unknown = _refusal(desk, RevokeToken(command_id="r", actor=ALICE, token_id="0" * 16))
    malformed = _refusal(desk, RevokeToken(command_id="r", actor=ALICE, token_id="no such"))
    assert theirs == named == unknown == malformed
    assert theirs[0] == "unknown_token"
    assert bobs in desk.state.accounts[BOB].valid_tokens(desk.ts)


@pytest.mark.parametrize("actor", [ROOT, SYSTEM_ACTOR])
@pytest.mark.parametrize("named", [True, False])
def test_admins_and_the_system_revoke_anyones_token(actor: UUID, named: bool) -> None:
    desk = trading_desk()
    bobs = _issue(desk, BOB, BOB, 1)
    account = BOB if named else None
    command = RevokeToken(command_id="r", actor=actor, token_id=bobs, account=account)
    assert desk.run(command).account_id == BOB
    assert desk.state.accounts[BOB].valid_tokens(desk.ts) == {}


def test_an_expired_token_cannot_be_revoked_and_is_not_valid() -> None:
    desk = trading_desk()
    token = _issue(desk, ALICE, ALICE, 1, expires_at=to_datetime(desk.ts + 3))
    assert token in desk.state.accounts[ALICE].valid_tokens(desk.ts)
    desk.ts += 5
    assert desk.state.accounts[ALICE].valid_tokens(desk.ts) == {}
    refused = _refusal(desk, RevokeToken(command_id="r", actor=ALICE, token_id=token))
    assert refused[0] == "unknown_token"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 5), st.integers(0, 30)), max_size=25))
def test_valid_tokens_are_those_issued_unexpired_and_not_revoked(
    steps: list[tuple[bool, int, int]],
) -> None:
    """Whatever the sequence of issues and revocations, the aggregate agrees with a model."""
    desk = trading_desk()
    model: dict[str, int | None] = {}  # token id -> expiry
    for issue, n, life in steps:
        if issue:
            if token_id(hash_token(f"token-{n}")) in model:
                continue
            expiry = None if life == 0 else desk.ts + 1 + life
            options = {} if expiry is None else {"expires_at": to_datetime(expiry)}
            model[_issue(desk, ALICE, ALICE, n, **options)] = expiry
        else:
            public = token_id(hash_token(f"token-{n}"))
            expiry = model.get(public, 0)
            valid = public in model and (expiry is None or expiry > desk.ts + 1)
            try:
                desk.run(RevokeToken(command_id=f"r{desk.ts}", actor=ALICE, token_id=public))
            except Refused as refused:
                assert refused.code == "unknown_token"
                assert not valid
            else:
                assert valid
                del model[public]
        now = desk.ts
        expected = {key for key, expiry in model.items() if expiry is None or expiry > now}
        assert set(desk.state.accounts[ALICE].valid_tokens(now)) == expected


def _stored_token_event(desk: Desk, store: EventStore, **options: Any) -> Row:
    _issue(desk, ALICE, ALICE, 9, **options)
    (event,) = [e for e in desk.settle() if isinstance(e, Account.TokenIssued)]
    stored = store.mapper.to_stored_event(event)
    return Row(1, stored.originator_id, stored.originator_version, stored.topic, stored.state)


def test_a_token_event_stored_before_labels_and_expiry_still_decodes() -> None:
    store = EventStore(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    desk = trading_desk()
    row = _stored_token_event(desk, store)
    state = orjson.loads(row.state)
    for key in ("label", "expires_at"):
        del state[key]  # as the code of 2026-12-06 stored it
    old = row._replace(state=orjson.dumps(state))
    by_library = store.mapper.to_domain_event(_stored(old))
    ((_, by_decoder),) = EventDecoder(store.mapper).decode([old])
    for event in (by_library, by_decoder):
        assert isinstance(event, Account.TokenIssued)
        assert (event.label, event.expires_at) == (None, None)
        assert event.token_hash == hash_token("token-9")
    # an account replayed from it knows the token, without an expiry
    account = Account.__new__(Account)
    account.__dict__["tokens"] = {}
    by_decoder.apply(account)
    assert account.token_book() == {token_id(hash_token("token-9")): ["issue-9", None]}


def test_a_token_event_with_an_expiry_decodes_the_same_both_ways() -> None:
    store = EventStore(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    desk = trading_desk()
    expires = to_datetime(desk.ts) + timedelta(days=30)
    row = _stored_token_event(desk, store, label="ci", expires_at=expires)
    ((_, by_decoder),) = EventDecoder(store.mapper).decode([row])
    by_library = store.mapper.to_domain_event(_stored(row))
    assert isinstance(by_library, Account.TokenIssued)
    assert (by_decoder.label, by_decoder.expires_at) == ("ci", expires)
    assert (by_library.label, by_library.expires_at) == ("ci", expires)


def _stored(row: Row) -> StoredEvent:
    return StoredEvent(
        originator_id=row.originator_id,
        originator_version=row.originator_version,
        topic=row.topic,
        state=row.state,
    )
