"""Audit and replay tooling over the event log: the hash chain's verification, time travel,
trails, exports."""
