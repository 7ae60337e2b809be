"""What a stored event says, for people and for extracts: its aggregate and type, who did it
(the command's actor and command id), when, and its fields as JSON-ready values.

Who did it, by event (as the command index derives it, `commands/dedup.py`):

- a market event: its `actor` (the block account, for a copy block's order); a listing, and
  every event with a `by` (KYC, roles, deposits, tokens, moderation, copy trading): `by`;
- a trader's registration, a withdrawal or its refusal, and an account's own social and
  copy-settings events: the account itself; an `Unfollowed` that another account's block
  caused: that account (the command index holds the command under the account that sent
  it);
- a post, comment, like or report: its author, liker or reporter (an edit or delete: the
  post's author; an unlike: the liker, read from the aggregate's first event);
- a `LedgerPosted` (one per account per write batch, holding many commands' entries) and the
  registration of an account nobody signed up as (admins, the fee and copy accounts): none.

Prices and quantities in market records are decimal strings (the market's ticks and lots
converted); amounts are decimal strings; times are ISO 8601 in UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NamedTuple
from uuid import UUID

import orjson

from socialtrading.domain.account import TRADER, Account
from socialtrading.domain.ids import SYSTEM_ACTOR
from socialtrading.domain.market import Market
from socialtrading.domain.money import exact
from socialtrading.domain.social.like import Like
from socialtrading.domain.social.post import Post
from socialtrading.engine.records import to_dict
from socialtrading.engine.spec import MarketSpec, format_decimal
from socialtrading.infra.decoding import EventDecoder
from socialtrading.infra.log_reads import read_at
from socialtrading.infra.store import EventStore, Row

SYSTEM = str(SYSTEM_ACTOR)
SYSTEM_HANDLE = "(system)"  # how the system actor (bootstrap, the CLI, expiry runs) is named
_NOT_FIELDS = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic"})
_MARKET_FIELDS = frozenset({"records", "terms"})  # rendered with the market's spec
# What a summary leaves out: shown beside it, or too long to read there.
_NOT_SUMMARIZED = frozenset({"command_id", "actor", "by", "records", "entries", "terms"})
# Terms of a refused order held in ticks or lots.
_TERM_PRICES = ("price", "stop_price")
_TERM_QUANTITIES = ("qty",)
# Events whose actor is the account they are stored on.
_OWN = (
    Account.FundsWithdrawn,
    Account.WithdrawalRefused,
    Account.ProfileUpdated,
    Account.Followed,
    Account.Blocked,
    Account.Unblocked,
    Account.NotificationsRead,
    Account.CopySettingsChanged,
    Account.Unfollowed,  # unless a block caused it: see `_actors`
)
# Events whose actor is the one who created their aggregate (read from its first event).
_CREATOR_ACTS = (Post.Edited, Post.Deleted, Like.Unliked, Like.Reliked)
# Remembered first events, markets' specs and handles; beyond this many, forgotten.
_CACHE = 100_000


class Described(NamedTuple):
    """One event as the audit tools show it."""

    position: int  # in the log (the notification id)
    at: datetime  # the sequencer's time, UTC
    aggregate: str  # market, account, post, comment, like, report, copy
    aggregate_id: str
    version: int  # of the aggregate
    type: str  # the event's class, e.g. OrderAccepted
    actor: str | None  # the account id of the command's actor (None: see the docstring)
    command_id: str | None
    fields: dict[str, Any]  # the event's own fields, JSON-ready (`summarize` for one line)


def aggregate_kind(event: Any) -> str:
    """The kind of aggregate an event belongs to: `Market.OrderAccepted` -> market."""
    return type(event).__qualname__.split(".")[0].lower()


def event_type(event: Any) -> str:
    """An event's type: `Market.OrderAccepted` -> OrderAccepted."""
    return type(event).__qualname__.rsplit(".", 1)[-1]


def to_json(fields: dict[str, Any]) -> str:
    """The fields as compact JSON text."""
    return orjson.dumps(fields).decode()


class Describer:
    """Describes stored events, looking up what they leave out: a market's spec, who created
    a post or a like, who sent a block, handles. Keeps what it looked up (bounded)."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.decoder = EventDecoder(store.mapper)
        self._first: dict[UUID, Any] = {}  # aggregate id -> its first event
        self._specs: dict[UUID, MarketSpec] = {}
        self._has_index: bool | None = None

    def describe(self, rows: Sequence[Row]) -> list[Described]:
        """The stored rows, described in the same order."""
        items = self.decoder.decode(rows)
        actors = self._actors([event for _, event in items])
        return [
            self._described(position, event, actor)
            for (position, event), actor in zip(items, actors, strict=True)
        ]

    def at(self, positions: Sequence[int]) -> list[Described]:
        """The events at these log positions (those that exist), described, in log order:
        what an index of positions (the audit trail's) points at."""
        return self.describe(read_at(self.store, positions)) if positions else []

    def handles(self, accounts: Iterable[str | None]) -> dict[str, str]:
        """The handle of each account id given (the system actor's is SYSTEM_HANDLE; ids
        that name no account are left out)."""
        found: dict[str, str] = {}
        for account in accounts:
            if account is None or account in found:
                continue
            if account == SYSTEM:
                found[account] = SYSTEM_HANDLE
                continue
            first = self.first_event(account)
            if isinstance(first, Account.Registered):
                found[account] = first.handle
        return found

    def first_event(self, aggregate: str | UUID) -> Any | None:
        """The first event of an aggregate (None if there is none, or the id is not one)."""
        try:
            key = aggregate if isinstance(aggregate, UUID) else UUID(aggregate)
        except ValueError:
            return None
        if key in self._first:
            return self._first[key]
        stored = self.store.recorder.select_events(key, lte=1)
        first = self.store.mapper.to_domain_event(stored[0]) if stored else None
        if len(self._first) > _CACHE:
            self._first.clear()
        self._first[key] = first
        return first

    # ------------------------------------------------------------------ who did it

    def _actors(self, events: Sequence[Any]) -> list[str | None]:
        actors = [self._actor(event) for event in events]
        # An unfollow is its account's own command, unless a block by the other account
        # caused it: then the index holds the command under the blocker only.
        unfollows = [
            (at, event) for at, event in enumerate(events) if isinstance(event, Account.Unfollowed)
        ]
        if unfollows and self._index_exists():
            keys = [(event.originator_id, event.command_id) for _, event in unfollows]
            sent = {(row.actor, row.command_id) for row in self.store.find_commands(keys)}
            for at, event in unfollows:
                if (event.originator_id, event.command_id) not in sent:
                    actors[at] = event.target
        return actors

    def _actor(self, event: Any) -> str | None:
        if isinstance(event, Market.BookChanged):
            return str(event.actor)
        if isinstance(event, Account.LedgerPosted):
            return None
        if isinstance(event, Account.Registered):
            return str(event.originator_id) if TRADER in event.roles else None
        if isinstance(event, _OWN):
            return str(event.originator_id)
        if isinstance(event, _CREATOR_ACTS):
            first = self.first_event(event.originator_id)
            return None if first is None else _creator(first)
        creator = _creator(event)
        if creator is not None:
            return creator
        for name in ("actor", "by"):
            value = getattr(event, name, None)
            if isinstance(value, str):
                return value
        return None

    def _index_exists(self) -> bool:
        if self._has_index is None:
            self._has_index = self.store.index_exists()
        return self._has_index

    # ------------------------------------------------------------------ fields

    def _described(self, position: int, event: Any, actor: str | None) -> Described:
        return Described(
            position=position,
            at=event.timestamp.astimezone(UTC),
            aggregate=aggregate_kind(event),
            aggregate_id=str(event.originator_id),
            version=event.originator_version,
            type=event_type(event),
            actor=actor,
            command_id=getattr(event, "command_id", None),
            fields=self._fields(event),
        )

    def _fields(self, event: Any) -> dict[str, Any]:
        fields = {
            name: _plain(value)
            for name, value in event.__dict__.items()
            if name not in _NOT_FIELDS and name not in _MARKET_FIELDS
        }
        if isinstance(event, Market.BookChanged):
            spec = self._spec(event.originator_id)
            with exact():
                fields["records"] = [to_dict(tuple(record), spec) for record in event.records]
                fields["terms"] = None if event.terms is None else _terms(event.terms, spec)
        return fields

    def _spec(self, market: UUID) -> MarketSpec:
        spec = self._specs.get(market)
        if spec is None:
            listed = self.first_event(market)
            if not isinstance(listed, Market.Listed):
                raise LookupError(f"market {market} has no listing")
            spec = self._specs[market] = MarketSpec(
                symbol=listed.symbol, tick_size=listed.tick_size, lot_size=listed.lot_size
            )
        return spec


def _creator(event: Any) -> str | None:
    """The account that created an aggregate with this first event, when it says so."""
    for name in ("author", "reporter"):
        value = getattr(event, name, None)
        if isinstance(value, str):
            return value
    if isinstance(event, Like.Liked):
        return str(event.account)
    return None


def _terms(terms: dict[str, Any], spec: MarketSpec) -> dict[str, Any]:
    """A refused order's terms with its ticks and lots as decimal strings."""
    out = dict(terms)
    for name in _TERM_PRICES:
        if out.get(name) is not None:
            out[name] = format_decimal(spec.price(out[name]))
    for name in _TERM_QUANTITIES:
        if out.get(name) is not None:
            out[name] = format_decimal(spec.qty(out[name]))
    return out


_SCALARS = frozenset({str, int, bool, float, type(None)})


def _plain(value: Any) -> Any:
    """A field's value as JSON can hold it exactly."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is list or kind is tuple:
        return [item if type(item) in _SCALARS else _plain(item) for item in value]
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    return value


def summarize(fields: dict[str, Any]) -> str:
    """The fields in one line: `name=value` pairs, a market event's records and a ledger's
    entries each in a few words."""
    parts = [
        f"{name}={_short(value)}"
        for name, value in fields.items()
        if name not in _NOT_SUMMARIZED and value not in (None, [], {})
    ]
    for rendered in fields.get("records") or ():  # as `to_dict` renders them
        words = [str(rendered["type"])]
        words += [
            f"{name}={value}"
            for name, value in rendered.items()
            if name not in ("type", "seq", "ts") and value is not None
        ]
        parts.append(" ".join(words))
    for entry in fields.get("entries") or ():
        kind, _, reference, asset, available, reserved = entry
        parts.append(f"{kind} {asset} available {available} reserved {reserved} ({reference})")
    if fields.get("terms"):
        parts.append("terms " + " ".join(f"{k}={v}" for k, v in fields["terms"].items()))
    return "; ".join(parts)


def _short(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(_short(item) for item in value)
    if isinstance(value, dict):
        return "{" + " ".join(f"{k}={_short(v)}" for k, v in value.items()) + "}"
    return str(value)
