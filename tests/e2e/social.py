"""GraphQL documents and steps of the social end-to-end tests."""

from __future__ import annotations

from typing import Any

from tests.e2e.helpers import deposit, list_market, place, register
from tests.e2e.server import Server

POST_FIELDS = """
id body market sentiment cashtags status likeCount commentCount viewerLiked createdAt editedAt
author { handle } mentions { handle }
trades { tradeId market side price quantity markPrice pnlSinceEntry }
disclosedPosition { market quantity averageEntryPrice }
"""

ACCOUNT_FIELDS = """
handle displayName bio avatarUrl followerCount followingCount postCount viewerFollows
"""

PUBLISH = f"""
mutation Publish($input: PublishPostInput!) {{
  publishPost(input: $input) {{
    __typename
    ... on PublishPostSuccess {{ post {{ {POST_FIELDS} }} }}
    ... on Rejection {{ code message }}
  }}
}}
"""

UPDATE_PROFILE = f"""
mutation Profile($displayName: String, $bio: String, $avatarUrl: String) {{
  updateProfile(displayName: $displayName, bio: $bio, avatarUrl: $avatarUrl) {{
    __typename
    ... on UpdateProfileSuccess {{ account {{ {ACCOUNT_FIELDS} }} }}
    ... on Rejection {{ code message }}
  }}
}}
"""


def relation(name: str) -> str:
    """The document of `follow`, `unfollow`, `block` or `unblock`."""
    success = name[0].upper() + name[1:] + "Success"
    return f"""
mutation Relation($handle: String!) {{
  {name}(handle: $handle) {{
    __typename
    ... on {success} {{ account {{ {ACCOUNT_FIELDS} }} }}
    ... on Rejection {{ code message }}
  }}
}}
"""


EDIT = f"""
mutation Edit($postId: ID!, $body: String!, $sentiment: Sentiment) {{
  editPost(postId: $postId, body: $body, sentiment: $sentiment) {{
    __typename
    ... on EditPostSuccess {{ post {{ {POST_FIELDS} }} }}
    ... on Rejection {{ code message }}
  }}
}}
"""

DELETE = """
mutation Delete($postId: ID!) {
  deletePost(postId: $postId) {
    __typename
    ... on DeletePostSuccess { postId }
    ... on Rejection { code message }
  }
}
"""

COMMENT = """
mutation Comment($postId: ID!, $body: String!, $replyTo: ID) {
  commentOnPost(postId: $postId, body: $body, replyTo: $replyTo) {
    __typename
    ... on CommentOnPostSuccess {
      comment { id body status author { handle } post { id } replyTo { id } }
    }
    ... on Rejection { code message }
  }
}
"""

LIKE = """
mutation Like($postId: ID!) {
  likePost(postId: $postId) {
    __typename
    ... on LikePostSuccess { post { id likeCount viewerLiked } }
    ... on Rejection { code message }
  }
}
"""

UNLIKE = """
mutation Unlike($postId: ID!) {
  unlikePost(postId: $postId) {
    __typename
    ... on UnlikePostSuccess { post { id likeCount viewerLiked } }
    ... on Rejection { code message }
  }
}
"""

REPORT = """
mutation Report($postId: ID, $commentId: ID, $reason: String!) {
  reportContent(postId: $postId, commentId: $commentId, reason: $reason) {
    __typename
    ... on ReportContentSuccess { reportId }
    ... on Rejection { code message }
  }
}
"""

HIDE_POST = """
mutation Hide($postId: ID!, $reason: String!) {
  hidePost(postId: $postId, reason: $reason) {
    __typename
    ... on HidePostSuccess { postId }
    ... on Rejection { code message }
  }
}
"""

HIDE_COMMENT = """
mutation Hide($commentId: ID!, $reason: String!) {
  hideComment(commentId: $commentId, reason: $reason) {
    __typename
    ... on HideCommentSuccess { commentId }
    ... on Rejection { code message }
  }
}
"""

MARK_READ = """
mutation Read($upTo: ID) {
  markNotificationsRead(upTo: $upTo) {
    __typename
    ... on MarkNotificationsReadSuccess { unreadCount }
    ... on Rejection { code message }
  }
}
"""

POST = f"query Post($id: ID!) {{ post(id: $id) {{ {POST_FIELDS} }} }}"

FEED = """
query Feed($first: Int, $after: String) {
  feed(first: $first, after: $after) {
    edges { cursor node { id body author { handle } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

POSTS = """
query Posts($author: String, $market: String, $cashtag: String, $first: Int, $after: String) {
  posts(author: $author, market: $market, cashtag: $cashtag, first: $first, after: $after) {
    edges { cursor node { id body status } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

ACCOUNT = f"""
query Account($handle: String!) {{
  account(handle: $handle) {{
    {ACCOUNT_FIELDS}
    followers {{ edges {{ node {{ handle }} }} }}
    following {{ edges {{ node {{ handle }} }} }}
    posts {{ edges {{ node {{ id body }} }} }}
  }}
}}
"""

FILLS = """
query Fills($handle: String!, $first: Int, $after: String) {
  account(handle: $handle) {
    fills(first: $first, after: $after) {
      edges { cursor node {
        id tradeId market side price quantity fee feeAsset liquidity orderId executedAt
      } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""

NOTIFICATIONS = """
query Notifications($first: Int, $after: String, $unreadOnly: Boolean) {
  notifications(first: $first, after: $after, unreadOnly: $unreadOnly) {
    edges { node { id kind read actor { handle } post { id } comment { id } } }
  }
}
"""

QUEUE = """
query Queue {
  moderationQueue { edges { node { id reason reporter { handle } post { id } comment { id } } } }
}
"""

GRANT = """
mutation Grant($account: ID!, $role: Role!) {
  grantRole(account: $account, role: $role) { __typename }
}
"""


def publish(server: Server, token: str, body: str, **fields: Any) -> dict[str, Any]:
    """Publish a post; the result member."""
    result: dict[str, Any] = server.gql(PUBLISH, {"input": {"body": body, **fields}}, token=token)[
        "publishPost"
    ]
    return result


def published(server: Server, token: str, body: str, **fields: Any) -> dict[str, Any]:
    """Publish a post that must succeed; the post."""
    result = publish(server, token, body, **fields)
    assert result["__typename"] == "PublishPostSuccess", result
    post: dict[str, Any] = result["post"]
    return post


def act(server: Server, token: str, document: str, **variables: Any) -> dict[str, Any]:
    """Run a one-field mutation; its result member."""
    data = server.gql(document, variables, token=token)
    result: dict[str, Any] = next(iter(data.values()))
    return result


def code(result: dict[str, Any]) -> str:
    """The code of a Rejection (or the success's type name)."""
    return str(result.get("code", result["__typename"]))


def traders(server: Server, *handles: str) -> dict[str, tuple[str, str]]:
    """Sign traders up: handle -> (account id, token)."""
    return {handle: register(server, handle) for handle in handles}


def trade(server: Server, buyer: str, seller: str, price: str = "100", quantity: str = "1") -> None:
    """List BTC-USD (once), fund both sides and have `buyer` take `seller`'s offer."""
    if server.gql('{ market(symbol: "BTC-USD") { symbol } }')["market"] is None:
        assert list_market(server, server.admin())["__typename"] == "ListMarketSuccess"
    assert deposit(server, buyer, "USD", "100000")["__typename"] == "DepositSuccess"
    assert deposit(server, seller, "BTC", "100")["__typename"] == "DepositSuccess"
    sell = place(server, seller, market="BTC-USD", side="SELL", price=price, quantity=quantity)
    assert sell["__typename"] == "PlaceOrderSuccess", sell
    buy = place(server, buyer, market="BTC-USD", side="BUY", price=price, quantity=quantity)
    assert buy["order"]["status"] == "FILLED", buy
