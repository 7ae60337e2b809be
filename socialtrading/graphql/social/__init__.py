"""Social: profiles, follows, blocks, posts, comments, likes, reports, feeds, notifications."""
