"""The text rules of the social layer: normalization, limits, cashtags and mentions.

Every body is stored in Unicode NFC and measured in code points after normalization, so two
spellings of the same text are the same text and a limit means the same thing for both. Control
characters are refused everywhere except a line feed and a tab in bodies; a handle or a display
name takes none at all.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from socialtrading.domain.errors import InvalidCommand

MAX_POST_BODY: Final = 2_000
MAX_COMMENT_BODY: Final = 1_000
MAX_BIO: Final = 280
MAX_DISPLAY_NAME: Final = 64
MAX_AVATAR_URL: Final = 500
MAX_REASON: Final = 500
MAX_CASHTAGS: Final = 10  # per post: more are ignored, not refused
MAX_MENTIONS: Final = 10  # per post or comment: more are ignored, not refused

# C0 and C1 controls, DEL, and the Unicode line/paragraph separators and bidi overrides that
# let a text disguise what follows it.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_CONTROL_ANY = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# `$BTC`, `$eth` (cashtags are asset codes: a letter, then letters or digits, at most 10)
_CASHTAG = re.compile(r"(?<![\w$])\$([A-Za-z][A-Za-z0-9]{0,9})(?![\w])")
# `@alice` (handles: 3..32 of letters, digits and underscore)
_MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_]{3,32})(?![\w])")


def body(text: str, limit: int, what: str = "body") -> str:
    """`text` in NFC, 1..`limit` code points, with no control character but line feeds and
    tabs, surrounding whitespace removed; InvalidCommand (`invalid_body`) otherwise."""
    normalized = unicodedata.normalize("NFC", text.replace("\r\n", "\n")).strip()
    if not normalized:
        raise InvalidCommand("invalid_body", f"the {what} is empty")
    if len(normalized) > limit:
        raise InvalidCommand("invalid_body", f"the {what} is longer than {limit} characters")
    if _CONTROL.search(normalized):
        raise InvalidCommand("invalid_body", f"the {what} holds control characters")
    return normalized


def line(text: str, limit: int, code: str, what: str, *, empty: bool = False) -> str:
    """One line of text (a display name, a bio, a reason) in NFC within `limit` code points,
    with no control character at all; InvalidCommand with `code` otherwise."""
    normalized = unicodedata.normalize("NFC", text).strip()
    if not normalized and not empty:
        raise InvalidCommand(code, f"the {what} is empty")
    if len(normalized) > limit:
        raise InvalidCommand(code, f"the {what} is longer than {limit} characters")
    if _CONTROL_ANY.search(normalized):
        raise InvalidCommand(code, f"the {what} holds control characters")
    return normalized


def bio(text: str) -> str:
    """A bio: at most 280 characters, may be empty, line feeds allowed."""
    normalized = unicodedata.normalize("NFC", text.replace("\r\n", "\n")).strip()
    if len(normalized) > MAX_BIO:
        raise InvalidCommand("invalid_bio", f"a bio is at most {MAX_BIO} characters")
    if _CONTROL.search(normalized):
        raise InvalidCommand("invalid_bio", "the bio holds control characters")
    return normalized


def avatar_url(text: str) -> str | None:
    """An avatar URL: https only, at most 500 characters, no spaces or controls; the empty
    string clears it (None)."""
    url = text.strip()
    if not url:
        return None
    if len(url) > MAX_AVATAR_URL:
        raise InvalidCommand(
            "invalid_avatar_url", f"an avatar URL is at most {MAX_AVATAR_URL} characters"
        )
    if not re.fullmatch(r"https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\s\x00-\x1f\x7f]*)?", url):
        raise InvalidCommand("invalid_avatar_url", "an avatar URL is an https:// address")
    return url


def cashtags(text: str) -> list[str]:
    """The distinct cashtags of `text`, upper-cased, in order of first appearance."""
    found: dict[str, None] = {}
    for match in _CASHTAG.finditer(text):
        found.setdefault(match.group(1).upper())
        if len(found) == MAX_CASHTAGS:
            break
    return list(found)


def mentions(text: str) -> list[str]:
    """The distinct handles mentioned in `text`, case-folded, in order of first appearance."""
    found: dict[str, None] = {}
    for match in _MENTION.finditer(text):
        found.setdefault(match.group(1).casefold())
        if len(found) == MAX_MENTIONS:
            break
    return list(found)
