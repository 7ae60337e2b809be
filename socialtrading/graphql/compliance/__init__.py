"""Compliance over GraphQL: audit trails (analysts and admins only)."""
