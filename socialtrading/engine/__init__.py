"""The pure, deterministic matching engine: integer ticks and lots, no clock, no I/O.

The public face: `MarketSpec` (the market's rules and the Decimal <-> integer edge),
`OrderBook` (one market's matching) and the record layouts in `records`.
"""

from socialtrading.engine.book import OrderBook
from socialtrading.engine.spec import InvalidValueError, MarketSpec, SpecError

__all__ = ["InvalidValueError", "MarketSpec", "OrderBook", "SpecError"]
