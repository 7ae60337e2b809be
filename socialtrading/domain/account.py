"""The Account aggregate: identity, KYC, roles, and balances with reservations per asset.

Balances change in two ways. Deposits and withdrawals are events of their own. Trading moves
money through ledger entries (funds reserved for an order, reservation released, trade
settled, fee) that the writer posts while it applies a batch of commands and stores as ONE
`LedgerPosted` event per touched account per batch (see docs/decisions.md: the event count per
order decides the write path's throughput). Until that event is triggered, posted entries are
pending and already count in `available` and `reserved`, so later commands in the same batch
see them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, NamedTuple
from uuid import UUID

from eventsourcing.domain import Aggregate

from socialtrading.domain.copy.plan import opened, placed, plan_size, sized
from socialtrading.domain.copy.risk import gated_after
from socialtrading.domain.errors import Refused
from socialtrading.domain.events import trigger
from socialtrading.domain.time import to_datetime, to_micros
from socialtrading.domain.tokens import UNKNOWN_TOKEN, token_id

TRADER = "trader"
MERCHANT = "merchant"
ADMIN = "admin"
COMPLIANCE = "compliance"
MODERATOR = "moderator"
ROLES = (TRADER, MERCHANT, ADMIN, COMPLIANCE, MODERATOR)
# Copy trading's allocation and block accounts: never traders, never granted (not in ROLES).
COPY = "copy"

ZERO = Decimal(0)


class CopySettings(NamedTuple):
    """A leader's terms: whether it takes copiers, its profit share (basis points), the least
    a copy may start with (quote), and how many live copies it takes."""

    accept_copiers: bool
    profit_share_bps: int
    min_copy_amount: Decimal
    max_copiers: int


# A ledger entry: [kind, market, reference, asset, available delta, reserved delta];
# the deltas are decimal strings. Kinds: reserve, release, settle, fee, transfer (copy
# trading: money moved between an account and a copy's allocation or a block), credit (a
# block account drawing credit for a copied fill's block orders, and repaying it as the
# copies' allocations pay: what accounts hold is deposits - withdrawals + credit drawn and
# not repaid; `domain/copy/plan.py`).
Entry = list[str]
TRANSFER: Final = "transfer"
CREDIT: Final = "credit"


class Account(Aggregate):
    """A participant: a trader, an admin, a compliance analyst, or the exchange's fee account."""

    class Registered(Aggregate.Created):
        handle: str
        display_name: str
        roles: list[str]
        command_id: str

    class KycVerified(Aggregate.Event):
        level: int
        by: str
        command_id: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Account)
            aggregate.kyc_level = self.level

    class RoleGranted(Aggregate.Event):
        role: str
        by: str
        command_id: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Account)
            if self.role not in aggregate.roles:
                aggregate.roles = sorted([*aggregate.roles, self.role])

    class FundsDeposited(Aggregate.Event):
        asset: str
        amount: Decimal
        by: str
        command_id: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Account)
            aggregate._balance(self.asset)[0] += self.amount

    class FundsWithdrawn(Aggregate.Event):
        asset: str
        amount: Decimal
        command_id: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Account)
            aggregate._balance(self.asset)[0] -= self.amount

    class WithdrawalRefused(Aggregate.Event):
        asset: str
        amount: Decimal
        reason: str
        command_id: str

        def apply(self, aggregate: Aggregate) -> None:
            pass  # recorded for the audit trail and for command de-duplication

    class TokenIssued(Aggregate.Event):
        """An API token was issued; only its SHA-256 hash is stored.

        `label` and `expires_at` came later: their defaults stand in for them in events
        stored before (the decoders leave a missing key to the class attribute).
        """

        token_hash: str
        by: str
        command_id: str
        label: str | None = None
        expires_at: datetime | None = None

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Account)
            expires = None if self.expires_at is None else to_micros(self.expires_at)
            aggregate.token_book()[token_id(self.token_hash)] = [self.command_id, expires]

    class TokenRevoked(Aggregate.Event):
        """An API token (by its public id) stopped being valid."""

        token_id: str
        by: str
        command_id: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Account)
            aggregate.token_book().pop(self.token_id, None)

    class LedgerPosted(Aggregate.Event):
        entries: list[Entry]

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Account)
            if aggregate._pending and len(aggregate._pending) == len(self.entries):
                # Live (`flush`): these entries are the pending ones, already summed per
                # asset as they were posted, so the sums are added instead of re-reading
                # every entry's text.
                for asset, (available, reserved) in aggregate._delta.items():
                    balance = aggregate._balance(asset)
                    balance[0] += available
                    balance[1] += reserved
            else:  # read from the store
                for entry in self.entries:
                    balance = aggregate._balance(entry[3])
                    balance[0] += Decimal(entry[4])
                    balance[1] += Decimal(entry[5])
            # Now they are part of the recorded balances.
            aggregate._pending = []
            aggregate._delta = {}

    # ------------------------------------------------------------------ social events
    # Follows and blocks are stored on the acting account (a block that ends the other's
    # follow also stores an `Unfollowed` on that account). Accounts snapshotted before these
    # existed have no `bio`, `avatar_url`, `notifications_read` attributes: the class
    # attributes below stand in, and `following()` / `blocking()` create their dicts.

    class ProfileUpdated(Aggregate.Event):
        display_name: str
        bio: str
        avatar_url: str | None
        command_id: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Account)
            aggregate.display_name = self.display_name
            aggregate.bio = self.bio
            aggregate.avatar_url = self.avatar_url

    class Followed(Aggregate.Event):
        target: str  # the followed account's id (text)
        command_id: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Account)
            aggregate.following()[self.target] = None

    class Unfollowed(Aggregate.Event):
        target: str
        command_id: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Account)
            aggregate.following().pop(self.target, None)

    class Blocked(Aggregate.Event):
        target: str
        command_id: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Account)
            aggregate.blocking()[self.target] = None

    class Unblocked(Aggregate.Event):
        target: str
        command_id: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Account)
            aggregate.blocking().pop(self.target, None)

    class NotificationsRead(Aggregate.Event):
        up_to: int  # the newest notification read (its number in the account's list)
        command_id: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Account)
            aggregate.notifications_read = max(aggregate.notifications_read, self.up_to)

    # ------------------------------------------------------------------ copy trading

    class CopySettingsChanged(Aggregate.Event):
        """A leader's terms for copiers (the profit share in basis points of the gain)."""

        accept_copiers: bool
        profit_share_bps: int
        min_copy_amount: Decimal
        max_copiers: int
        command_id: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Account)
            # a list, not the NamedTuple: snapshots store attributes as JSON
            aggregate.copy_terms = [
                self.accept_copiers,
                self.profit_share_bps,
                self.min_copy_amount,
                self.max_copiers,
            ]

    class BlockPlanned(Aggregate.Event):
        """A copied fill's plan opened on the leader's block account (copy trading): the
        fill and what its copies are sized by (`domain/copy/plan.py`); `BlockSized`,
        `BlockPlaced` and `BlockPartApplied` follow."""

        plan: dict[str, Any]
        by: str
        command_id: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Account)
            if aggregate.blocks is None:
                aggregate.blocks = {}
            aggregate.blocks[self.plan["reference"]] = opened(self.plan)

    class BlockSized(Aggregate.Event):
        """The next copies of the plan `reference` sized: their want and skip items, and the
        last copy sized (`cursor`)."""

        reference: str
        items: list[list[Any]]
        cursor: str
        by: str
        command_id: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Account) and aggregate.blocks is not None
            sized(aggregate.blocks[self.reference], self.items, self.cursor)

    class BlockPlaced(Aggregate.Event):
        """The plan `reference`'s block orders placed on credit: each block's terms and
        outcome (`blocks`), and the order and skip items its parts settle."""

        reference: str
        blocks: dict[str, Any]
        items: list[list[Any]]
        by: str
        command_id: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Account) and aggregate.blocks is not None
            pending = aggregate.blocks[self.reference]
            placed(pending, self.blocks, self.items)
            if not self.items:
                del aggregate.blocks[self.reference]  # nothing to settle

    class BlockPartApplied(Aggregate.Event):
        """The plan `reference` is settled up to (not including) its item `upto`; a plan
        settled to its end is forgotten."""

        reference: str
        upto: int
        by: str
        command_id: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Account)
            assert aggregate.blocks is not None
            pending = aggregate.blocks[self.reference]
            if self.upto >= plan_size(pending[1]):
                del aggregate.blocks[self.reference]
            else:
                pending[0] = self.upto

    class RiskScoreRecorded(Aggregate.Event):
        """A leader's risk score as of a closed UTC day (days since the epoch), and the risk
        gate it leaves (`domain/copy/risk.py`: closed at 8 and more, open below 7, a 7 keeps
        it), decided when recorded. Sent by the risk-gate process (`by`: the system)."""

        score: int
        as_of_day: int
        gated: bool
        by: str
        command_id: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Account)
            aggregate.risk_score = self.score
            aggregate.risk_score_as_of = self.as_of_day
            aggregate.risk_gated = self.gated

    bio: str = ""
    avatar_url: str | None = None
    notifications_read: int = 0
    # [accept, bps, min amount, max copiers]; None: never opted in as a leader
    copy_terms: list[Any] | None = None
    # a block account's plans not settled yet: reference -> [next item, plan]
    blocks: dict[str, list[Any]] | None = None

    # The risk gate (copy trading): the last recorded risk score, the UTC day (days since the
    # epoch) it was recorded as of, and whether the gate is closed (no new copiers). Class
    # attributes stand in for accounts stored before these existed, and never scored.
    risk_score: int | None = None
    risk_score_as_of: int | None = None
    risk_gated: bool = False

    def __init__(self, handle: str, display_name: str, roles: list[str], command_id: str) -> None:
        self.handle = handle
        self.display_name = display_name
        self.roles = sorted(roles)
        self.kyc_level = 0
        self.balances: dict[str, list[Decimal]] = {}  # asset -> [available, reserved], recorded
        self._pending: list[tuple[str, str, str, str, Decimal, Decimal]] = []
        self._delta: dict[str, list[Decimal]] = {}  # asset -> [available, reserved], pending
        # token id -> [command id that issued it, expiry in microseconds or None]; revoked
        # tokens are removed
        self.tokens: dict[str, list[Any]] = {}

    # ------------------------------------------------------------------ queries

    def available(self, asset: str) -> Decimal:
        """Funds free to reserve or withdraw, including entries posted in this batch."""
        recorded = self.balances.get(asset)
        pending = self._delta.get(asset)
        return (recorded[0] if recorded else ZERO) + (pending[0] if pending else ZERO)

    def reserved(self, asset: str) -> Decimal:
        """Funds reserved for open orders, including entries posted in this batch."""
        recorded = self.balances.get(asset)
        pending = self._delta.get(asset)
        return (recorded[1] if recorded else ZERO) + (pending[1] if pending else ZERO)

    def assets(self) -> list[str]:
        """Every asset this account has held, sorted."""
        return sorted(set(self.balances) | set(self._delta))

    def knows_tokens(self) -> bool:
        """Whether the account tracks its tokens (False: loaded from a snapshot taken before
        tokens were tracked; see `recover_tokens`)."""
        return "tokens" in self.__dict__

    def recover_tokens(self, events: Iterable[Any]) -> None:
        """Rebuild the tokens from the account's own events (after an old snapshot)."""
        self.tokens = {}
        for event in events:
            if isinstance(event, Account.TokenIssued | Account.TokenRevoked):
                event.apply(self)

    def token_book(self) -> dict[str, list[Any]]:
        """Token id -> [issuing command id, expiry in microseconds or None], not revoked."""
        book: dict[str, list[Any]] | None = self.__dict__.get("tokens")
        if book is None:
            book = self.tokens = {}
        return book

    def valid_tokens(self, now: int) -> dict[str, list[Any]]:
        """Token id -> [issuing command id, expiry or None] of the tokens valid at `now`."""
        return {
            key: value
            for key, value in self.token_book().items()
            if value[1] is None or value[1] > now
        }

    def following(self) -> dict[str, None]:
        """The accounts (id text) this one follows, in the order followed."""
        found: dict[str, None] | None = self.__dict__.get("_following")
        if found is None:
            found = self.__dict__["_following"] = {}
        return found

    def blocking(self) -> dict[str, None]:
        """The accounts (id text) this one blocks, in the order blocked."""
        found: dict[str, None] | None = self.__dict__.get("_blocking")
        if found is None:
            found = self.__dict__["_blocking"] = {}
        return found

    def has_role(self, role: str) -> bool:
        """Whether the account holds `role`."""
        return role in self.roles

    @property
    def has_pending_entries(self) -> bool:
        """Whether ledger entries wait for `flush`."""
        return bool(self._pending)

    # ------------------------------------------------------------------ commands

    def verify_kyc(self, level: int, by: UUID, command_id: str, ts: int) -> None:
        """Record that KYC was verified at `level`."""
        self.trigger_event(
            self.KycVerified,
            level=level,
            by=str(by),
            command_id=command_id,
            timestamp=to_datetime(ts),
        )

    def grant_role(self, role: str, by: UUID, command_id: str, ts: int) -> None:
        """Grant `role` (one of ROLES)."""
        if role not in ROLES:
            raise Refused("unknown_role", f"unknown role {role!r}; roles are {', '.join(ROLES)}")
        self.trigger_event(
            self.RoleGranted,
            role=role,
            by=str(by),
            command_id=command_id,
            timestamp=to_datetime(ts),
        )

    def issue_token(
        self,
        token_hash: str,
        by: UUID,
        command_id: str,
        ts: int,
        label: str | None = None,
        expires_at: int | None = None,
    ) -> None:
        """Record a new API token by its hash, with an optional label and expiry."""
        self.trigger_event(
            self.TokenIssued,
            token_hash=token_hash,
            by=str(by),
            command_id=command_id,
            label=label,
            expires_at=None if expires_at is None else to_datetime(expires_at),
            timestamp=to_datetime(ts),
        )

    def revoke_token(self, token_id: str, by: UUID, command_id: str, ts: int) -> None:
        """Revoke a valid API token by its public id."""
        if token_id not in self.valid_tokens(ts):
            raise Refused("unknown_token", UNKNOWN_TOKEN)
        self.trigger_event(
            self.TokenRevoked,
            token_id=token_id,
            by=str(by),
            command_id=command_id,
            timestamp=to_datetime(ts),
        )

    def deposit(self, asset: str, amount: Decimal, by: UUID, command_id: str, ts: int) -> None:
        """Credit `amount` of `asset`."""
        self.trigger_event(
            self.FundsDeposited,
            asset=asset,
            amount=amount,
            by=str(by),
            command_id=command_id,
            timestamp=to_datetime(ts),
        )

    def withdraw(self, asset: str, amount: Decimal, command_id: str, ts: int) -> str | None:
        """Debit `amount` of `asset` if available; else record the refusal and return its code."""
        if amount > self.available(asset):
            self.trigger_event(
                self.WithdrawalRefused,
                asset=asset,
                amount=amount,
                reason="insufficient_funds",
                command_id=command_id,
                timestamp=to_datetime(ts),
            )
            return "insufficient_funds"
        self.trigger_event(
            self.FundsWithdrawn,
            asset=asset,
            amount=amount,
            command_id=command_id,
            timestamp=to_datetime(ts),
        )
        return None

    def post(
        self,
        kind: str,
        market: str,
        reference: str,
        asset: str,
        available: Decimal,
        reserved: Decimal,
    ) -> None:
        """Post a trading ledger entry; it is stored by the next `flush`.

        The writer checks funds before it reserves, so a negative balance here is a bug in
        the ledger rules, never a user error: it raises instead of storing a wrong state.
        """
        pending = self._delta.get(asset)
        if pending is None:
            pending = self._delta[asset] = [ZERO, ZERO]
        pending[0] += available
        pending[1] += reserved
        self._pending.append((kind, market, reference, asset, available, reserved))
        if available >= 0 and reserved >= 0:
            return  # nothing decreased: balances that were not negative are still not
        recorded = self.balances.get(asset)
        now_available, now_reserved = (
            pending if recorded is None else (recorded[0] + pending[0], recorded[1] + pending[1])
        )
        if now_available < 0 or now_reserved < 0:
            raise AssertionError(
                f"ledger entry would overdraw {self.handle} {asset}: {self._pending[-1]}"
            )

    def flush(self, ts: int) -> None:
        """Store the pending ledger entries as one LedgerPosted event."""
        if self._pending:
            entries = [
                [kind, market, reference, asset, str(available), str(reserved)]
                for kind, market, reference, asset, available, reserved in self._pending
            ]
            trigger(self, self.LedgerPosted, {"entries": entries, "timestamp": to_datetime(ts)})

    # ------------------------------------------------------------------ social decisions

    def update_profile(
        self, display_name: str, bio: str, avatar_url: str | None, command_id: str, ts: int
    ) -> bool:
        """Set the profile (values already normalized); False, storing nothing, when it is
        the profile already."""
        if (display_name, bio, avatar_url) == (self.display_name, self.bio, self.avatar_url):
            return False
        self.trigger_event(
            self.ProfileUpdated,
            display_name=display_name,
            bio=bio,
            avatar_url=avatar_url,
            command_id=command_id,
            timestamp=to_datetime(ts),
        )
        return True

    def follow(self, me: str, target: Account, them: str, command_id: str, ts: int) -> bool:
        """Follow `target` (`me` and `them` are the two ids as text). Refused for oneself or
        across a block either way; False, storing nothing, when followed already."""
        if target is self:
            raise Refused("cannot_follow_self", "an account does not follow itself")
        if them in self.blocking() or me in target.blocking():
            raise Refused("blocked", "a block stands between these accounts")
        if them in self.following():
            return False
        self.trigger_event(
            self.Followed, target=them, command_id=command_id, timestamp=to_datetime(ts)
        )
        return True

    def unfollow(self, them: str, command_id: str, ts: int) -> bool:
        """Stop following `them`; False, storing nothing, when not following."""
        if them not in self.following():
            return False
        self.trigger_event(
            self.Unfollowed, target=them, command_id=command_id, timestamp=to_datetime(ts)
        )
        return True

    def block(self, me: str, target: Account, them: str, command_id: str, ts: int) -> bool:
        """Block `target`: ends a follow either way (`target`'s unfollow is an event of
        `target`). False, storing nothing, when blocked already."""
        if target is self:
            raise Refused("cannot_block_self", "an account does not block itself")
        if them in self.blocking():
            return False
        self.trigger_event(
            self.Blocked, target=them, command_id=command_id, timestamp=to_datetime(ts)
        )
        self.unfollow(them, command_id, ts)
        target.unfollow(me, command_id, ts)
        return True

    def unblock(self, them: str, command_id: str, ts: int) -> bool:
        """Lift a block; False, storing nothing, when there is none."""
        if them not in self.blocking():
            return False
        self.trigger_event(
            self.Unblocked, target=them, command_id=command_id, timestamp=to_datetime(ts)
        )
        return True

    def copy_settings(self) -> CopySettings | None:
        """The account's terms for copiers; None if it never set any (it takes no copiers)."""
        terms = self.copy_terms
        return None if terms is None else CopySettings(*terms)

    def set_copy_settings(self, settings: CopySettings, command_id: str, ts: int) -> bool:
        """Set the terms for copiers; False, storing nothing, when they are these already."""
        if settings == self.copy_settings():
            return False
        self.trigger_event(
            self.CopySettingsChanged,
            accept_copiers=settings.accept_copiers,
            profit_share_bps=settings.profit_share_bps,
            min_copy_amount=settings.min_copy_amount,
            max_copiers=settings.max_copiers,
            command_id=command_id,
            timestamp=to_datetime(ts),
        )
        return True

    def pending_blocks(self) -> list[tuple[int, dict[str, Any]]]:
        """A block account's plans not settled yet, oldest first: (next item, plan)."""
        return [(pending[0], pending[1]) for pending in (self.blocks or {}).values()]

    def plan_block(self, plan: dict[str, Any], by: str, command_id: str, ts: int) -> None:
        """Open a copied fill's plan (`domain/copy/plan.py`)."""
        self._block_event(self.BlockPlanned, {"plan": plan}, by, command_id, ts)

    def block_sized(
        self,
        reference: str,
        items: list[list[Any]],
        cursor: str,
        by: str,
        command_id: str,
        ts: int,
    ) -> None:
        """Record the next copies of a plan sized."""
        fields = {"reference": reference, "items": items, "cursor": cursor}
        self._block_event(self.BlockSized, fields, by, command_id, ts)

    def block_placed(
        self,
        reference: str,
        blocks: dict[str, Any],
        items: list[list[Any]],
        by: str,
        command_id: str,
        ts: int,
    ) -> None:
        """Record a plan's blocks placed (the handler placed them and posted the credit)."""
        fields = {"reference": reference, "blocks": blocks, "items": items}
        self._block_event(self.BlockPlaced, fields, by, command_id, ts)

    def _block_event(
        self,
        event: type[Aggregate.Event],
        fields: dict[str, Any],
        by: str,
        command_id: str,
        ts: int,
    ) -> None:
        fields.update(by=by, command_id=command_id, timestamp=to_datetime(ts))
        trigger(self, event, fields)

    def block_part_applied(
        self, reference: str, upto: int, by: str, command_id: str, ts: int
    ) -> None:
        """Record that the plan `reference` is settled up to item `upto`."""
        self._block_event(
            self.BlockPartApplied, {"reference": reference, "upto": upto}, by, command_id, ts
        )

    def record_risk_score(
        self, score: int, as_of_day: int, by: UUID, command_id: str, ts: int
    ) -> bool:
        """Record the risk score as of `as_of_day`; the gate follows it (`gated_after`).
        False, storing nothing, when the score is the recorded one (the gate cannot change
        then either) or older than it (a day before the recorded day: a resend, a replay)."""
        if self.risk_score_as_of is not None and as_of_day < self.risk_score_as_of:
            return False
        gated = gated_after(self.risk_gated, score)
        if score == self.risk_score and gated == self.risk_gated:
            return False
        self.trigger_event(
            self.RiskScoreRecorded,
            score=score,
            as_of_day=as_of_day,
            gated=gated,
            by=str(by),
            command_id=command_id,
            timestamp=to_datetime(ts),
        )
        return True

    def mark_notifications_read(self, up_to: int, command_id: str, ts: int) -> bool:
        """Mark notifications up to `up_to` read; False when they are already."""
        if up_to <= self.notifications_read:
            return False
        self.trigger_event(
            self.NotificationsRead, up_to=up_to, command_id=command_id, timestamp=to_datetime(ts)
        )
        return True

    def _balance(self, asset: str) -> list[Decimal]:
        balance = self.balances.get(asset)
        if balance is None:
            balance = self.balances[asset] = [ZERO, ZERO]
        return balance

    @classmethod
    def register(
        cls,
        account_id: UUID,
        handle: str,
        display_name: str,
        roles: list[str],
        command_id: str,
        ts: int,
    ) -> Account:
        """Open an account."""
        return cls._create(
            cls.Registered,
            id=account_id,
            handle=handle,
            display_name=display_name,
            roles=sorted(roles),
            command_id=command_id,
            timestamp=to_datetime(ts),
        )

    def state(self) -> dict[str, Any]:
        """A comparable summary: identity, KYC, roles, and every balance (for checks)."""
        return {
            "handle": self.handle,
            "kyc_level": self.kyc_level,
            "roles": list(self.roles),
            "balances": {a: [self.available(a), self.reserved(a)] for a in self.assets()},
            "tokens": {key: list(value) for key, value in sorted(self.token_book().items())},
        }
