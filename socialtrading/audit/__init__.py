"""Audit and replay: the hash chain's verification, and the checks that run beside it."""
