"""Pydantic command models (the one place input is validated), their handlers, authorization,
and the single writer (sequencer) that applies commands in order and group-commits them."""
