"""Compliance analysts' GraphQL: surveillance alerts, their evidence and their cases."""
