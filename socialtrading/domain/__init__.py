"""Event-sourced aggregates (eventsourcing.Aggregate): accounts, markets, social aggregates.

Pure: no database, no network. Command methods decide; event apply methods assign.
"""
