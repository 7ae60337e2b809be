"""Audit trails: every event that touched an order, an account or a post, in log order.

Which events touched a subject is the `audit_trail` read model's (the rules are in
`projections/audit_trail.py`): a page of a trail is one index range there, then those
events read from the store by position and described (`events.py`). A trail shows what the
read model has reached (the CLI catches it up first when it can).
"""

from __future__ import annotations

import re
from typing import NamedTuple
from uuid import UUID

from sqlalchemy import Connection

from socialtrading.audit.events import Described, Describer
from socialtrading.domain.ids import account_id
from socialtrading.infra.store import EventStore
from socialtrading.projections.audit_trail import (
    ACCOUNT,
    ORDER,
    POST,
    trail_positions,
)

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


def page(
    connection: Connection,
    store: EventStore,
    subject: Subject,
    *,
    first: int,
    after: int | None = None,
    describer: Describer | None = None,
) -> list[Described]:
    """Up to `first` events of the subject's trail after position `after`, oldest first.

    `connection` is on the read store (the index); the events come from `store`.
    """
    found = trail_positions(connection, subject.kind, subject.id, first=first, after=after)
    if not found:
        return []
    describer = describer or Describer(store)
    return describer.describe(store.read_at(found))
