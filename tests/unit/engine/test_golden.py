"""The engine's output for a fixed 20,000-command journal never changes, byte for byte.

`tests/fixtures/journal-20k.jsonl.gz` was written by `tests/fixtures/make_journal.py`: the
generated order flow (amends, limits, IOC, FOK, market orders, cancels) and a tail of stops,
GTD, post-only, STP modes, a halt and an auction. The digest is of what `socialtrading match`
writes for it. A refactoring that changes it changed the engine's behaviour.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

from socialtrading.engine import journal

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
OUTPUT_SHA256 = "b9f495773a87befd916ee963cda082c0e235c670578fd819859181754438151c"


def test_the_golden_journal_gives_the_same_output_byte_for_byte() -> None:
    with gzip.open(FIXTURES / "journal-20k.jsonl.gz", "rt", encoding="utf-8") as source:
        lines = source.readlines()
    assert len(lines) == 20_016
    digest = hashlib.sha256()
    kinds: set[str] = set()
    for item in journal.run(lines):
        kinds.add(item["type"])
        digest.update((json.dumps(item, separators=(",", ":")) + "\n").encode("utf-8"))
    assert {"amended", "trade", "cancelled", "triggered", "uncrossed", "rejected"} <= kinds
    assert digest.hexdigest() == OUTPUT_SHA256
