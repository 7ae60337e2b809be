"""Accounts: sign-up, the caller's own account (balances, orders, positions), KYC and roles."""
