"""Audit and replay: the hash chain and its verification, time travel, trails and exports."""
