"""The social domain: posts, comments, likes and reports as aggregates; the text rules they
share. Profiles, follows and blocks are events of the `Account` aggregate (`domain/account.py`),
because the writer keeps every account in memory and a follow is decided from two of them."""
