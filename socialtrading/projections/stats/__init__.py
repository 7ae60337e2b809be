"""Trader statistics and leaderboards (issue 13): daily equity points (`projection.py`),
the formulas (`formulas.py`) and the queries (`queries.py`)."""
