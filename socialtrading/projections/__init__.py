"""Read models in SQLAlchemy tables, one module per read model, each following the
notification log and recording its position in the same transaction as its changes."""
