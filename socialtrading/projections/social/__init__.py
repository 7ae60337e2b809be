"""The social read models (issue 12): profiles and the follow graph, posts with their trades,
tags, comments and likes, notifications and the moderation queue (`projection.py`,
`queries.py`), the home feed (`feed.py`), every account's fills (`fills.py`) and market
sentiment weighted by verified track records (`sentiment.py`)."""
