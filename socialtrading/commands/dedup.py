"""Remembered commands (deduplication): a repeated (actor, command_id) gets its first outcome
back and changes nothing, also after a restart.

The rule, in one place: the writer keeps no outcome in memory. Each batch's transaction
writes a `CommandRow` per new command beside its events (`row_of`): a market command's row
names the market event its outcome is read from again, any other command's row holds its
outcome's few fields. A repeat is answered from the row (`recall`), a repeat within the batch
that first ran the command from that outcome. `derive` reads the same rows, and every account
and market created, off the log: for a store written before the index existed, and to check
that the index and the log agree (`check`). The SQL is the store's
(`infra/command_index.py`, `infra/store.py`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple
from uuid import UUID

from socialtrading.commands.accounts import WITHDRAWAL_REFUSED
from socialtrading.commands.state import Outcome, market_outcome
from socialtrading.domain.account import COPY as COPY_ROLE
from socialtrading.domain.account import TRADER, Account
from socialtrading.domain.compliance.alert import Alert
from socialtrading.domain.copy.copy import Copy
from socialtrading.domain.market import Market, refusal
from socialtrading.domain.social.comment import Comment
from socialtrading.domain.social.like import Like
from socialtrading.domain.social.post import Post
from socialtrading.domain.social.report import Report
from socialtrading.infra.command_index import (
    ACCOUNT,
    ALERT,
    COMMENT,
    COPY,
    LIKE,
    MARKET,
    POST,
    REPORT,
    CommandRow,
    Created,
)
from socialtrading.infra.decoding import EventDecoder
from socialtrading.infra.store import EventStore


def row_of(actor: UUID, outcome: Outcome) -> CommandRow:
    """The index row of a command's outcome (a market command's names its event)."""
    if outcome.event is not None:
        market_id, version = outcome.event
        return CommandRow(
            actor,
            outcome.command_id,
            outcome.accepted,
            outcome.stored,
            market_id=market_id,
            market_version=version,
        )
    return CommandRow(
        actor,
        outcome.command_id,
        outcome.accepted,
        outcome.stored,
        outcome.code,
        outcome.message,
        outcome.account_id,
        outcome.market,
    )


def recall_all(
    store: EventStore, keys: Sequence[tuple[UUID, str]], markets: Iterable[Market], position: int
) -> dict[tuple[UUID, str], Outcome]:
    """The first outcome of each remembered command among the (actor, command_id) `keys`, in
    one look-up: what a repeat of it gets (a new command is absent)."""
    rows = store.find_commands(keys)
    if not rows:
        return {}
    known = list(markets)
    return {(row.actor, row.command_id): recall(store, row, known, position) for row in rows}


def recall(store: EventStore, row: CommandRow, markets: Iterable[Market], position: int) -> Outcome:
    """The first outcome of a remembered command, which a repeat gets: a market command's
    is read again from its stored event, any other's is the row itself. `position` is the
    store's newest notification id (the command was stored by then)."""
    if row.market_id is None:
        return _plain_outcome(row, position)
    market_id, version = row.market_id, row.market_version
    assert version is not None, row
    stored = store.recorder.select_events(market_id, gt=version - 1, lte=version)
    if len(stored) != 1:
        raise LookupError(f"market {market_id} has no stored event {version}")
    found = store.mapper.to_domain_event(stored[0])
    assert isinstance(found, Market.BookChanged), found
    symbol = next(m.symbol for m in markets if m.id == market_id)
    records = [tuple(record) for record in found.records]  # JSON made them lists
    outcome = market_outcome(
        found.command_id,
        symbol,
        found.order_id,
        records,
        refusal(found.order_id, records),
        (market_id, version),
    )
    outcome.position = position
    return outcome


def _plain_outcome(row: CommandRow, position: int) -> Outcome:
    """The outcome a row holds in full (not a market command's)."""
    assert row.market_id is None, row
    return Outcome(
        row.command_id,
        row.accepted,
        row.code,
        row.message,
        account_id=row.account_id,
        market=row.market,
        stored=row.stored,
        position=position if row.stored else 0,
    )


def derive(store: EventStore) -> tuple[list[CommandRow], list[Created]]:
    """Every stored command's row and every aggregate created, from one pass over the log.

    Refusals that stored nothing have no event, so they are not found here: the index is
    the only place that remembers them.
    """
    rows: dict[tuple[UUID, str], CommandRow] = {}
    created: list[Created] = []
    decoder = EventDecoder(store.mapper)
    actors: dict[str, UUID] = {}  # one UUID object per actor
    social = _SocialActors()
    # allocation and block accounts (copy trading): their orders are parts of copy commands
    copy_accounts: set[str] = set()
    position = 0
    while notifications := store.read(position, 10_000):
        for _, event in decoder.decode(notifications):
            kind = _CREATED.get(type(event))
            if kind is not None:
                created.append(Created(event.originator_id, kind))
                if kind == ACCOUNT and COPY_ROLE in event.roles:
                    copy_accounts.add(str(event.originator_id))
            if isinstance(event, Market.BookChanged) and event.actor in copy_accounts:
                continue
            row = (
                _row_of_event(event, actors)
                or social.row_of(event, actors)
                or _copy_row(event, actors)
                or _by_row(event, actors)
            )
            if row is not None:
                rows.setdefault((row.actor, row.command_id), row)
        position = notifications[-1].id
    for row in social.unfollow_rows(actors):
        rows.setdefault((row.actor, row.command_id), row)
    # A block account's first order can be logged before its `Registered` event (the market
    # was touched earlier in the same batch): no copy account is ever a command's actor.
    return [row for row in rows.values() if str(row.actor) not in copy_accounts], created


# The events that create an aggregate, and the kind it is listed under.
_CREATED: dict[type, str] = {
    Account.Registered: ACCOUNT,
    Market.Listed: MARKET,
    Copy.Started: COPY,
    Post.Published: POST,
    Comment.Written: COMMENT,
    Like.Liked: LIKE,
    Report.Filed: REPORT,
    Alert.Raised: ALERT,
}


class _SocialActors:
    """The rows of social commands, read off their events: the actor of an event on a post
    or a like is its author or liker (remembered from the creating event), an account's
    social event is its own, a moderator's is `by`.

    A block that ends the blocked account's follow stores an `Unfollowed` on that account
    with the block's command id: that is not a command of the blocked account. So unfollows
    are kept aside and answered at the end, by `unfollow_rows`, less those a block stored.
    """

    def __init__(self) -> None:
        self.authors: dict[UUID, str] = {}  # post or like id -> author or liker (text)
        self.blocks: set[tuple[str, str, str]] = set()  # (blocker, blocked, command id)
        self.unfollows: list[tuple[str, str, str]] = []  # (account, target, command id)

    def row_of(self, event: Any, actors: dict[str, UUID]) -> CommandRow | None:
        actor: str | None
        if isinstance(event, Account.Unfollowed):
            self.unfollows.append((str(event.originator_id), event.target, event.command_id))
            return None
        if isinstance(event, Account.Blocked):
            actor = str(event.originator_id)
            self.blocks.add((actor, event.target, event.command_id))
        elif isinstance(event, _ACCOUNT_SOCIAL):
            actor = str(event.originator_id)
        elif isinstance(event, Post.Published):
            actor = self.authors[event.originator_id] = event.author
        elif isinstance(event, Like.Liked):
            actor = self.authors[event.originator_id] = event.account
        elif isinstance(event, Post.Edited | Post.Deleted | Like.Unliked | Like.Reliked):
            actor = self.authors.get(event.originator_id)
        elif isinstance(event, Comment.Written):
            actor = event.author
        elif isinstance(event, Report.Filed):
            actor = event.reporter
        elif isinstance(event, Post.Hidden | Comment.Hidden):
            actor = event.by
        else:
            return None
        if actor is None:
            return None
        return CommandRow(_actor(actors, actor), event.command_id, True, True)

    def unfollow_rows(self, actors: dict[str, UUID]) -> list[CommandRow]:
        """The rows of the unfollows that were commands (not a block's effect on the
        blocked account)."""
        return [
            CommandRow(_actor(actors, account), command_id, True, True)
            for account, target, command_id in self.unfollows
            if (target, account, command_id) not in self.blocks
        ]


_ACCOUNT_SOCIAL = (
    Account.ProfileUpdated | Account.Followed | Account.Unblocked | Account.NotificationsRead
)


def _copy_row(event: Any, actors: dict[str, UUID]) -> CommandRow | None:
    """The row of a leader's copy settings: its own command (every `Copy` event names its
    command's actor: `_by_row`)."""
    if isinstance(event, Account.CopySettingsChanged):
        return CommandRow(event.originator_id, event.command_id, True, True)
    return None


def _by_row(event: Any, actors: dict[str, UUID]) -> CommandRow | None:
    """The row of a copy-trading or compliance command: every `Copy` and `Alert` event names
    its command's actor (`by`; the system for a raised alert), and so does a leader's
    `RiskScoreRecorded` (the system's `RecordRiskScore`)."""
    if type(event) in _BY_EVENTS:
        return CommandRow(_actor(actors, event.by), event.command_id, True, True)
    return None


_BY_EVENTS = frozenset(
    {
        Copy.Started,
        Copy.FundsAdded,
        Copy.FundsWithdrawn,
        Copy.SizingChanged,
        Copy.Paused,
        Copy.Resumed,
        Copy.Stopped,
        Copy.OrderPlaced,
        Copy.AllocationFilled,
        Copy.Skipped,
        Copy.OrderExecuted,
        Copy.ProfitShareSettled,
        Account.BlockPlanned,
        Account.BlockSized,
        Account.BlockPlaced,
        Account.BlockPartApplied,
        Account.RiskScoreRecorded,
        Alert.Raised,
        Alert.Acknowledged,
        Alert.Escalated,
        Alert.Dismissed,
        Alert.Closed,
        Alert.NoteAdded,
    }
)


class IndexCheck(NamedTuple):
    """What `check` found: the index's sizes, and where it disagrees with the log."""

    commands: int
    aggregates: int
    disagreements: list[str]


def check(store: EventStore, limit: int = 20) -> IndexCheck:
    """Compare the command index with the log (at most `limit` disagreements listed).

    Every stored command's row must be what the log says, and the aggregates table must list
    the log's accounts and markets in order. Rows of refusals that stored nothing have no
    event to check against. Read while no writer appends, or a batch in between shows up.
    """
    derived, created = derive(store)
    index = {(row.actor, row.command_id): row for row in store.all_commands()}
    found: list[str] = []
    for row in derived:
        key = (row.actor, row.command_id)
        kept = index.get(key)
        if kept is None:
            found.append(f"command {key} is in the log, not in the index")
        elif kept != row:
            found.append(f"command {key}: the index says {kept}, the log says {row}")
    logged = {(row.actor, row.command_id) for row in derived}
    found.extend(
        f"command {key} is in the index as stored, not in the log"
        for key, row in index.items()
        if row.stored and key not in logged
    )
    listed = store.aggregates()
    if listed != created:
        found.append(f"aggregates: the index lists {len(listed)}, the log created {len(created)}")
    return IndexCheck(len(index), len(listed), found[:limit])


def disagreements(store: EventStore, limit: int = 20) -> list[str]:
    """Where the command index and the log disagree (none: they agree); see `check`."""
    return check(store, limit).disagreements


def _row_of_event(event: Any, actors: dict[str, UUID]) -> CommandRow | None:
    """The row of the command a stored event answers, if it answers one."""
    if isinstance(event, Market.BookChanged):
        return CommandRow(
            _actor(actors, event.actor),
            event.command_id,
            refusal(event.order_id, event.records) is None,
            True,
            market_id=event.originator_id,
            market_version=event.originator_version,
        )
    if isinstance(event, Market.Listed):
        return CommandRow(
            _actor(actors, event.by), event.command_id, True, True, market=event.symbol
        )
    if isinstance(event, Account.Registered):
        if TRADER not in event.roles:  # the fee account, an admin: opened by another command
            return None
        return CommandRow(
            event.originator_id, event.command_id, True, True, account_id=event.originator_id
        )
    if isinstance(
        event,
        Account.KycVerified
        | Account.RoleGranted
        | Account.FundsDeposited
        | Account.TokenIssued
        | Account.TokenRevoked,
    ):
        return CommandRow(
            _actor(actors, event.by),
            event.command_id,
            True,
            True,
            account_id=event.originator_id,
        )
    if isinstance(event, Account.FundsWithdrawn):
        return CommandRow(
            event.originator_id, event.command_id, True, True, account_id=event.originator_id
        )
    if isinstance(event, Account.WithdrawalRefused):
        return CommandRow(
            event.originator_id,
            event.command_id,
            False,
            True,
            event.reason,
            WITHDRAWAL_REFUSED,
            account_id=event.originator_id,
        )
    return None


def _actor(actors: dict[str, UUID], text: str) -> UUID:
    """The one UUID object of an actor id written as text."""
    actor = actors.get(text)
    if actor is None:
        actor = actors[text] = UUID(text)
    return actor
