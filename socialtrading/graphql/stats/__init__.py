"""Trader statistics, equity curves and leaderboards (issue 13)."""
