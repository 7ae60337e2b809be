"""Copy trading's domain: the `Copy` aggregate (`copy.py`), its ids (`ids.py`) and the pure
sizing, allocation and profit-share rules (`rules.py`)."""
