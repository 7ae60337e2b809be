"""Markets: listings and their control, order books, the trade tape and candles."""
