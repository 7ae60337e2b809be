"""Developer scripts (install-time helpers), importable by the tests."""
