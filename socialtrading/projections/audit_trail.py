"""The `audit_trail` read model: which events touched each order, account and post.

One row per (subject, position). A subject's audit trail is its rows in position order
(`trail_positions`, for a `Subject` read from an order id, an account's handle or id, or a
post id), whose events are then read from the store and described (`audit/events.py`): a
trail costs an index range and the events it lists, however long the log. The rules, per
event:

- A market event (`Market.BookChanged`): every order its records name (accepted, rejected,
  rested, cancelled, expired, amended, triggered; both orders of a trade) and the command's
  order; every account they name (the owner of an order, both sides of a trade, the account
  a rejection names) and the command's actor. A listing: the admin who listed the market.
- An account event: the account; the admin in its `by` (KYC, roles, deposits, tokens); the
  other account of a follow, unfollow, block or unblock. A `LedgerPosted` also touches each
  order its entries reserve or release for, and the account's own orders in each trade it
  settles. A settlement names the trade (`SYMBOL:SEQ`), not the order, so it is paired with
  the trade's record, whichever of the two the log holds first (both are in the same write
  batch, whose events are stored aggregate by aggregate); the few not paired at the end of
  a batch wait in `audit_pending`.
- A post, comment, like or report: the post (its own, or the one commented, liked or
  reported), its author, liker or reporter, the accounts it mentions, the moderator who hid
  it, and the author of the content a report or a hide is about.
- A copy event: its copier and leader (and the allocation account on `Started`), and its
  `by` when another account acted.
- Any other event whose `actor` or `by` names an account: that account.

The system actor (bootstrap, the CLI, expiry runs) is nobody's subject. What links a comment,
like or copy to its post, author or leader is kept in `audit_links` (events after the first
name only the aggregate).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, NamedTuple
from uuid import UUID

from sqlalchemy import BigInteger, Column, Connection, String, Table, select
from sqlalchemy.dialects import postgresql, sqlite

from socialtrading.domain.account import Account
from socialtrading.domain.copy.copy import Copy
from socialtrading.domain.ids import SYSTEM_ACTOR, account_id
from socialtrading.domain.ids import market_id as make_market_id
from socialtrading.domain.market import Market
from socialtrading.domain.social.comment import Comment
from socialtrading.domain.social.like import Like
from socialtrading.domain.social.post import Post
from socialtrading.domain.social.report import Report
from socialtrading.engine.records import (
    ACCEPTED,
    ACCEPTED_ACCOUNT,
    AMENDED,
    CANCELLED,
    EXPIRED,
    KIND,
    ORDER_ID,
    REJECTED,
    REJECTED_ACCOUNT,
    REJECTED_ID,
    RESTED,
    SEQ,
    TRADE,
    TRADE_MAKER,
    TRADE_MAKER_ACCOUNT,
    TRADE_TAKER,
    TRADE_TAKER_ACCOUNT,
    TRIGGERED,
)
from socialtrading.projections.base import Item, Projection, metadata
from socialtrading.projections.sql import Bulk, bulk_insert, rows_in

ORDER = "order"
ACCOUNT = "account"
POST = "post"
SUBJECT_KINDS = (ORDER, ACCOUNT, POST)

audit_trail = Table(
    "audit_trail",
    metadata,
    Column("kind", String(8), primary_key=True),  # ORDER, ACCOUNT or POST
    Column("subject", String(64), primary_key=True),  # an order id, account or post id
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    sqlite_with_rowid=False,
)

audit_links = Table(
    "audit_links",
    metadata,
    Column("id", String(36), primary_key=True),  # a post, comment, like or copy
    Column("owner", String(36), nullable=False),  # its author, liker or copier
    Column("post", String(36)),  # the post (of a comment or a like; a post's own id)
    Column("other", String(36)),  # a copy's leader
    sqlite_with_rowid=False,
)

audit_pending = Table(
    "audit_pending",
    metadata,
    Column("trade", String(64), primary_key=True),  # MARKET_ID:SEQ
    Column("account", String(36), primary_key=True),
    # a settlement logged before its trade: its position
    Column("position", BigInteger),
    # a trade whose settlement for this account is not logged yet: its orders, comma-separated
    Column("orders", String(80)),
    sqlite_with_rowid=False,
)

_SYSTEM = str(SYSTEM_ACTOR)
# Links kept in memory; beyond this many they are forgotten and read again when needed.
_CACHE = 200_000
# A ledger entry: [kind, market, reference, asset, available delta, reserved delta].
_ENTRY_KIND = 0
_ENTRY_REFERENCE = 2
_ORDER_ENTRIES = frozenset({"reserve", "release"})  # their reference is the order id
_SETTLE = "settle"  # its reference is the trade, SYMBOL:SEQ
# Records about one order, which they name at ORDER_ID.
_ORDER_RECORDS = frozenset({ACCEPTED, RESTED, CANCELLED, EXPIRED, AMENDED, TRIGGERED})

Subjects = dict[tuple[str, str], None]  # (kind, subject), in the order found
Link = tuple[str, str | None, str | None]  # owner, post, other

_insert_rows = bulk_insert(audit_trail)
_insert_links = bulk_insert(audit_links)
_insert_pending = bulk_insert(audit_pending)


def _insert_ignoring(dialect: str) -> Any:
    table = audit_trail
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    return insert.on_conflict_do_nothing()


# Rows found late (a settlement's orders, once its trade is read): one may be there already.
_add_rows = Bulk(_insert_ignoring, ["kind", "subject", "position"])


class AuditTrailProjection(Projection):
    """The subjects of every event (see the module docstring)."""

    name: ClassVar[str] = "audit_trail"
    tables: ClassVar[tuple[Table, ...]] = (audit_trail, audit_links, audit_pending)

    def __init__(self) -> None:
        self._links: dict[str, Link] = {}
        self._new_links: list[tuple[str, str, str | None, str | None]] = []
        # trade -> account -> its orders in the trade, until the account's settlement is read
        self._trades: dict[str, dict[str, list[str]]] = {}
        # trade -> account -> position of its settlement, read before the trade
        self._settlements: dict[str, dict[str, int]] = {}
        self._pending_loaded = False
        self._pending_changed = False
        self._late: list[tuple[str, str, int]] = []
        self._market_ids: dict[str, str] = {}  # symbol -> market id (text)
        self._market_texts: dict[Any, str] = {}  # market id -> as text (rendered once)
        self._handlers: dict[type, Callable[[int, Any, Subjects], None]] = {}

    def reset(self) -> None:
        self._links = {}
        self._new_links = []
        self._trades = {}
        self._settlements = {}
        self._pending_loaded = False
        self._pending_changed = False
        self._late = []

    # ------------------------------------------------------------------ applying

    def apply(self, connection: Connection, items: Sequence[Item]) -> None:
        if not self._pending_loaded:
            self._load_pending(connection)
        if len(self._links) > _CACHE:
            self._links = {}  # every new link is written by now
        self._prefetch(connection, items)
        rows: list[tuple[str, str, int]] = []
        for position, event in items:
            subjects: Subjects = {}
            self._handler(type(event))(position, event, subjects)
            subjects.pop((ACCOUNT, _SYSTEM), None)
            rows += [(kind, subject, position) for kind, subject in subjects]
        _insert_rows.run(connection, rows)
        if self._late:
            _add_rows.run(connection, self._late)
            self._late = []
        if self._new_links:
            _insert_links.run(connection, self._new_links)
            self._new_links = []

    def flush(self, connection: Connection) -> None:
        if not self._pending_changed:
            return
        connection.execute(audit_pending.delete())
        rows: list[tuple[str, str, int | None, str | None]] = [
            (trade, account, None, ",".join(orders))
            for trade, parties in self._trades.items()
            for account, orders in parties.items()
        ]
        rows += [
            (trade, account, position, None)
            for trade, waiting in self._settlements.items()
            for account, position in waiting.items()
        ]
        _insert_pending.run(connection, rows)
        self._pending_changed = False

    def _load_pending(self, connection: Connection) -> None:
        for trade, account, position, orders in connection.execute(select(audit_pending)):
            if position is None:
                self._trades.setdefault(trade, {})[account] = orders.split(",")
            else:
                self._settlements.setdefault(trade, {})[account] = int(position)
        self._pending_loaded = True

    def _handler(self, cls: type) -> Callable[[int, Any, Subjects], None]:
        """The handler of an event class (the first of its classes that has one)."""
        found = self._handlers.get(cls)
        if found is None:
            table: dict[type, Callable[[int, Any, Subjects], None]] = {
                Market.BookChanged: self._book_changed,
                Market.Listed: self._by_actor,
                Account.LedgerPosted: self._ledger_posted,
                Account.Event: self._account_event,
                Post.Published: self._published,
                Post.Edited: self._post_event,
                Post.Deleted: self._post_event,
                Post.Hidden: self._post_event,
                Comment.Written: self._comment_written,
                Comment.Hidden: self._comment_hidden,
                Like.Event: self._like_event,
                Report.Filed: self._report_filed,
                Copy.Started: self._copy_started,
                Copy.Event: self._copy_event,
            }
            found = next((table[c] for c in cls.__mro__ if c in table), self._by_actor)
            self._handlers[cls] = found
        return found

    # ------------------------------------------------------------------ market events

    def _book_changed(self, position: int, event: Any, subjects: Subjects) -> None:
        if event.order_id is not None:
            subjects[(ORDER, event.order_id)] = None
        subjects[(ACCOUNT, event.actor)] = None
        market = self._market_texts.get(event.originator_id)
        if market is None:
            market = self._market_texts[event.originator_id] = str(event.originator_id)
        for record in event.records:
            kind = record[KIND]
            if kind == TRADE:
                taker, maker = record[TRADE_TAKER], record[TRADE_MAKER]
                taker_account = record[TRADE_TAKER_ACCOUNT]
                maker_account = record[TRADE_MAKER_ACCOUNT]
                subjects[(ORDER, taker)] = subjects[(ORDER, maker)] = None
                subjects[(ACCOUNT, taker_account)] = subjects[(ACCOUNT, maker_account)] = None
                parties = {taker_account: [taker]}
                parties.setdefault(maker_account, []).append(maker)
                self._traded(f"{market}:{record[SEQ]}", parties)
            elif kind in _ORDER_RECORDS:
                subjects[(ORDER, record[ORDER_ID])] = None
                if kind == ACCEPTED:
                    subjects[(ACCOUNT, record[ACCEPTED_ACCOUNT])] = None
            elif kind == REJECTED:
                if record[REJECTED_ID] is not None:
                    subjects[(ORDER, record[REJECTED_ID])] = None
                if record[REJECTED_ACCOUNT] is not None:
                    subjects[(ACCOUNT, record[REJECTED_ACCOUNT])] = None

    def _traded(self, trade: str, parties: dict[str, list[str]]) -> None:
        """A trade's record: its orders touch the settlements read before it."""
        waiting = self._settlements.pop(trade, None)
        if waiting is not None:
            for account, at in waiting.items():
                self._late.extend((ORDER, order, at) for order in parties.pop(account, ()))
        if parties:
            self._trades[trade] = parties
        self._pending_changed = True

    # ------------------------------------------------------------------ account events

    def _account_event(self, position: int, event: Any, subjects: Subjects) -> None:
        subjects[(ACCOUNT, str(event.originator_id))] = None
        for name in ("by", "target"):
            other = getattr(event, name, None)
            if other is not None:
                subjects[(ACCOUNT, other)] = None

    def _ledger_posted(self, position: int, event: Any, subjects: Subjects) -> None:
        account = str(event.originator_id)
        subjects[(ACCOUNT, account)] = None
        settled: dict[str, None] = {}  # a trade's settlement is several entries
        for entry in event.entries:
            kind = entry[_ENTRY_KIND]
            if kind in _ORDER_ENTRIES:
                subjects[(ORDER, entry[_ENTRY_REFERENCE])] = None
            elif kind == _SETTLE:
                settled[entry[_ENTRY_REFERENCE]] = None
        for reference in settled:
            self._settled(self._trade_key(reference), account, position, subjects)

    def _trade_key(self, reference: str) -> str:
        """The key of a trade named `SYMBOL:SEQ`: `MARKET_ID:SEQ`, as its record is keyed."""
        symbol, _, seq = reference.rpartition(":")
        market = self._market_ids.get(symbol)
        if market is None:
            market = self._market_ids[symbol] = str(make_market_id(symbol))
        return f"{market}:{seq}"

    def _settled(self, trade: str, account: str, position: int, subjects: Subjects) -> None:
        """A settlement of `trade` in `account`'s ledger at `position`."""
        parties = self._trades.get(trade)
        if parties is None:  # the trade's record comes later in the log
            self._settlements.setdefault(trade, {})[account] = position
        else:
            for order in parties.pop(account, ()):
                subjects[(ORDER, order)] = None
            if not parties:
                del self._trades[trade]
        self._pending_changed = True

    # ------------------------------------------------------------------ social events

    def _published(self, position: int, event: Any, subjects: Subjects) -> None:
        post = str(event.originator_id)
        self._link(post, event.author, post)
        subjects[(POST, post)] = None
        subjects[(ACCOUNT, event.author)] = None
        _mentions(event, subjects)

    def _post_event(self, position: int, event: Any, subjects: Subjects) -> None:
        post = str(event.originator_id)
        subjects[(POST, post)] = None
        subjects[(ACCOUNT, self._linked(post)[0])] = None
        _mentions(event, subjects)
        self._by(event, subjects)

    def _comment_written(self, position: int, event: Any, subjects: Subjects) -> None:
        self._link(str(event.originator_id), event.author, event.post)
        subjects[(POST, event.post)] = None
        subjects[(ACCOUNT, event.author)] = None
        _mentions(event, subjects)

    def _comment_hidden(self, position: int, event: Any, subjects: Subjects) -> None:
        author, post, _ = self._linked(str(event.originator_id))
        assert post is not None
        subjects[(POST, post)] = None
        subjects[(ACCOUNT, author)] = None
        self._by(event, subjects)

    def _like_event(self, position: int, event: Any, subjects: Subjects) -> None:
        if isinstance(event, Like.Liked):
            self._link(str(event.originator_id), event.account, event.post)
        liker, post, _ = self._linked(str(event.originator_id))
        assert post is not None
        subjects[(POST, post)] = None
        subjects[(ACCOUNT, liker)] = None

    def _report_filed(self, position: int, event: Any, subjects: Subjects) -> None:
        subjects[(POST, event.post)] = None
        subjects[(ACCOUNT, event.reporter)] = None
        content = event.post if event.comment is None else event.comment
        subjects[(ACCOUNT, self._linked(content)[0])] = None

    # ------------------------------------------------------------------ copy events

    def _copy_started(self, position: int, event: Any, subjects: Subjects) -> None:
        self._link(str(event.originator_id), event.copier, None, event.leader)
        subjects[(ACCOUNT, event.copier)] = None
        subjects[(ACCOUNT, event.leader)] = None
        subjects[(ACCOUNT, event.allocation)] = None
        self._by(event, subjects)

    def _copy_event(self, position: int, event: Any, subjects: Subjects) -> None:
        copier, _, leader = self._linked(str(event.originator_id))
        subjects[(ACCOUNT, copier)] = None
        if leader is not None:
            subjects[(ACCOUNT, leader)] = None
        self._by(event, subjects)

    # ------------------------------------------------------------------ the rest

    def _by_actor(self, position: int, event: Any, subjects: Subjects) -> None:
        """An event of another kind: the account its `actor` or `by` names."""
        actor = getattr(event, "actor", None)
        if isinstance(actor, str):
            subjects[(ACCOUNT, actor)] = None
        self._by(event, subjects)

    @staticmethod
    def _by(event: Any, subjects: Subjects) -> None:
        by = getattr(event, "by", None)
        if isinstance(by, str):
            subjects[(ACCOUNT, by)] = None

    # ------------------------------------------------------------------ links

    def _link(self, id_: str, owner: str, post: str | None, other: str | None = None) -> None:
        self._links[id_] = (owner, post, other)
        self._new_links.append((id_, owner, post, other))

    def _linked(self, id_: str) -> Link:
        found = self._links.get(id_)
        if found is None:
            raise LookupError(f"no audit link for {id_}: its first event was not applied")
        return found

    def _prefetch(self, connection: Connection, items: Sequence[Item]) -> None:
        """Read the links the chunk's events need that are not in memory, in one query."""
        links = self._links
        wanted: set[str] = set()
        for _, event in items:
            if isinstance(event, _LINKED_BY_ID) or (
                isinstance(event, Copy.Event) and not isinstance(event, Copy.Started)
            ):
                wanted.add(str(event.originator_id))
            elif isinstance(event, Report.Filed):
                wanted.add(event.post if event.comment is None else event.comment)
        wanted.difference_update(links)
        if wanted:
            statement = select(audit_links)
            for row in rows_in(connection, statement, audit_links.c.id, wanted):
                links[row.id] = (row.owner, row.post, row.other)


# Events that name only their aggregate, whose link tells what it belongs to (and every copy
# event after `Started`).
_LINKED_BY_ID = (
    Post.Edited,
    Post.Deleted,
    Post.Hidden,
    Comment.Hidden,
    Like.Unliked,
    Like.Reliked,
)


def _mentions(event: Any, subjects: Subjects) -> None:
    for mentioned in getattr(event, "mentions", ()):
        subjects[(ACCOUNT, mentioned)] = None


# ---------------------------------------------------------------------- queries

_ORDER_ID = re.compile(r"^[0-9a-f]{32}$")
_HANDLE = re.compile(r"^[A-Za-z0-9_]{3,32}$")
MAX_SUBJECT_CHARS = 64  # longer input names nothing (ids are 32 to 36 characters)


class Subject(NamedTuple):
    """What a trail is about: ORDER (an order id), ACCOUNT or POST (an id as text)."""

    kind: str
    id: str


class UnknownSubjectError(ValueError):
    """The input cannot name an order, account or post (malformed)."""


def order_subject(order_id: str) -> Subject:
    """The trail of an order (its id: 32 hexadecimal digits)."""
    text = order_id.strip().lower()
    if not _ORDER_ID.match(text):
        raise UnknownSubjectError("an order id is 32 hexadecimal digits")
    return Subject(ORDER, text)


def account_subject(account: str) -> Subject:
    """The trail of an account, by its handle or its id."""
    text = account.strip()
    if len(text) <= MAX_SUBJECT_CHARS:
        try:
            return Subject(ACCOUNT, str(UUID(text)))
        except ValueError:
            pass
        if _HANDLE.match(text):
            return Subject(ACCOUNT, str(account_id(text)))
    raise UnknownSubjectError("an account is named by its handle or its id")


def post_subject(post_id: str) -> Subject:
    """The trail of a post (its id)."""
    text = post_id.strip()
    try:
        if len(text) <= MAX_SUBJECT_CHARS:
            return Subject(POST, str(UUID(text)))
    except ValueError:
        pass
    raise UnknownSubjectError("a post id is a UUID")


def subject_of(
    order_id: str | None = None, account: str | None = None, post_id: str | None = None
) -> Subject:
    """The one subject named (UnknownSubjectError unless exactly one is given, well formed)."""
    given = [value for value in (order_id, account, post_id) if value is not None]
    if len(given) != 1:
        raise UnknownSubjectError("name exactly one of an order, an account or a post")
    if order_id is not None:
        return order_subject(order_id)
    if account is not None:
        return account_subject(account)
    assert post_id is not None
    return post_subject(post_id)


def trail_positions(
    connection: Connection, subject: Subject, *, first: int, after: int | None = None
) -> list[int]:
    """The positions of the events that touched a subject, oldest first: up to `first`
    after position `after`."""
    statement = select(audit_trail.c.position).where(
        audit_trail.c.kind == subject.kind, audit_trail.c.subject == subject.id
    )
    if after is not None:
        statement = statement.where(audit_trail.c.position > after)
    statement = statement.order_by(audit_trail.c.position).limit(max(first, 0))
    return [int(position) for (position,) in connection.execute(statement)]
