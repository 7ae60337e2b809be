"""Wiring on top of every layer: the command line, the ASGI app, bootstrap, demo, simulation."""
