"""Audit and replay tooling over the event log: time travel, trails, verification, exports."""
