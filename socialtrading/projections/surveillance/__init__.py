"""Compliance read models: surveillance alerts and their cases."""
