"""Deterministic ids of copies, their allocation accounts and leaders' block accounts.

Allocation and block accounts have handles starting with `~`, which no user handle can take
(user handles match `^[A-Za-z0-9_]{3,32}$`).
"""

from __future__ import annotations

from uuid import UUID, uuid5

from socialtrading.domain.ids import NAMESPACE


def copy_id(copier: UUID | str, key: str) -> UUID:
    """The id of `copier`'s copy made with `key` (its client copy id, else its command id)."""
    return uuid5(NAMESPACE, f"copy:{copier}:{key}")


def allocation_id(copy: UUID | str) -> UUID:
    """The id of the allocation account of a copy."""
    return uuid5(NAMESPACE, f"allocation:{copy}")


def allocation_handle(copy: UUID) -> str:
    """The handle of the allocation account of a copy."""
    return f"~copy-{copy.hex[:12]}"


def block_id(leader: UUID | str) -> UUID:
    """The id of a leader's block account (it owns the leader's block orders)."""
    return uuid5(NAMESPACE, f"block:{leader}")


BLOCK_HANDLE_PREFIX = "~block-"


def block_handle(leader: UUID) -> str:
    """The handle of a leader's block account."""
    return f"{BLOCK_HANDLE_PREFIX}{leader.hex[:12]}"


def fill_command_id(leader: UUID | str, trade_id: str) -> str:
    """The command id of the `CopyLeaderFill` of `leader`'s fill in trade `trade_id`: a resend
    is the same command (the writer's de-duplication makes it a no-op)."""
    return f"copy-fill:{uuid5(NAMESPACE, f'copy-fill:{leader}:{trade_id}')}"


def plan_part_command_id(leader: UUID | str, trade_id: str, step: str, part: int) -> str:
    """The command id of part `part` of `step` (`size`: `SizeCopyPlan`, `settle`:
    `ApplyCopyPlan`) of the plan of `leader`'s fill `trade_id`."""
    return f"copy-{step}:{uuid5(NAMESPACE, f'copy-{step}:{leader}:{trade_id}:{part}')}"


def risk_command_id(leader: UUID | str, day: int, score: int) -> str:
    """The command id of the `RecordRiskScore` of `leader`'s `score` as of `day`: sent again
    (a restart, a replay), it is the same command, which the writer answers from its index."""
    return f"risk-score:{uuid5(NAMESPACE, f'risk-score:{leader}:{day}:{score}')}"
