"""The tables of the `social` read model (profiles, the follow graph, posts, comments, likes,
reports, notifications). Times are microseconds since the epoch (UTC); `seq` columns hold the
log position of the event that made the row: stable, unique cursors, newest largest."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, String, Table

from socialtrading.projections.base import metadata

VISIBLE = "VISIBLE"
HIDDEN = "HIDDEN"

profiles = Table(
    "social_profiles",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("display_name", String(128), nullable=False),
    Column("bio", String(1200), nullable=False),
    Column("avatar_url", String(500), nullable=True),
    Column("follower_count", Integer, nullable=False),
    Column("following_count", Integer, nullable=False),
    Column("post_count", Integer, nullable=False),  # visible posts
    Column("notifications", BigInteger, nullable=False),  # the last notification's number
    Column("notifications_read", BigInteger, nullable=False),  # NotificationsRead.up_to
)

follows = Table(
    "social_follows",
    metadata,
    Column("follower", String(36), primary_key=True),
    Column("followee", String(36), primary_key=True),
    Column("since", BigInteger, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Index("ix_social_follows_following", "follower", "seq"),
    Index("ix_social_follows_followers", "followee", "seq"),
)

blocks = Table(
    "social_blocks",
    metadata,
    Column("blocker", String(36), primary_key=True),
    Column("blocked", String(36), primary_key=True),
    Column("since", BigInteger, nullable=False),
)

posts = Table(
    "social_posts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("author", String(36), nullable=False),
    Column("body", String(8000), nullable=False),
    Column("market", String(32), nullable=True),
    Column("sentiment", String(8), nullable=False),
    Column("cashtags", String(200), nullable=False),  # space-separated
    Column("mentions", String(400), nullable=False),  # space-separated account ids, linked
    Column("position_quantity", String(64), nullable=True),  # disclosed, decimal text
    Column("position_average_entry", String(64), nullable=True),
    Column("status", String(8), nullable=False),
    Column("like_count", Integer, nullable=False),
    Column("comment_count", Integer, nullable=False),  # visible comments
    Column("created_at", BigInteger, nullable=False),
    Column("edited_at", BigInteger, nullable=True),
    Column("seq", BigInteger, nullable=False, unique=True),
    Index("ix_social_posts_author", "author", "seq"),
    Index("ix_social_posts_market", "market", "seq"),
    Index("ix_social_posts_market_time", "market", "created_at"),
)

post_trades = Table(
    "social_post_trades",
    metadata,
    Column("post", String(36), primary_key=True),
    Column("n", Integer, primary_key=True, autoincrement=False),  # order in the post
    Column("trade_id", String(64), nullable=False),
    Column("market", String(32), nullable=False),
    Column("side", String(4), nullable=False),
    Column("price", String(64), nullable=False),  # decimal text, as published
    Column("quantity", String(64), nullable=False),
    Column("executed_at", BigInteger, nullable=False),
)

post_tags = Table(
    "social_post_tags",
    metadata,
    Column("tag", String(16), primary_key=True),
    Column("seq", BigInteger, primary_key=True),  # the post's
    Column("post", String(36), nullable=False),
    Column("author", String(36), nullable=False),
    Column("created_at", BigInteger, nullable=False),  # the post's
    Column("status", String(8), nullable=False),  # the post's
    Index("ix_social_post_tags_time", "created_at"),
    Index("ix_social_post_tags_post", "post"),
)

comments = Table(
    "social_comments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("post", String(36), nullable=False),
    Column("author", String(36), nullable=False),
    Column("body", String(4000), nullable=False),
    Column("reply_to", String(36), nullable=True),
    Column("mentions", String(400), nullable=False),
    Column("status", String(8), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Index("ix_social_comments_post", "post", "seq"),
)

likes = Table(
    "social_likes",
    metadata,
    Column("id", String(36), primary_key=True),  # like_id(post, account)
    Column("post", String(36), nullable=False),
    Column("account_id", String(36), nullable=False),
    Column("liked", Boolean, nullable=False),
    Column("since", BigInteger, nullable=False),
    Index("ix_social_likes_post", "post"),
)

reports = Table(
    "social_reports",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("reporter", String(36), nullable=False),
    Column("post", String(36), nullable=False),
    Column("comment", String(36), nullable=True),
    Column("reason", String(2000), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("seq", BigInteger, nullable=False, unique=True),
    Index("ix_social_reports_post", "post"),
    Index("ix_social_reports_comment", "comment"),
)

notifications = Table(
    "social_notifications",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("n", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", String(8), nullable=False),
    Column("actor", String(36), nullable=False),
    Column("post", String(36), nullable=True),
    Column("comment", String(36), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_social_notifications_post", "post"),
    Index("ix_social_notifications_comment", "comment"),
)

TABLES = (
    profiles,
    follows,
    blocks,
    posts,
    post_trades,
    post_tags,
    comments,
    likes,
    reports,
    notifications,
)
