"""GraphiQL's page and static route: local files only, and a clear page when they are missing."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from pathlib import Path

import httpx
from starlette.applications import Starlette

from socialtrading.graphql import graphiql


def test_the_page_loads_every_script_and_style_from_the_app_and_none_from_elsewhere() -> None:
    page = (graphiql.STATIC / "graphiql.html").read_text()
    loaded = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page)
    assert loaded, "the page loads nothing?"
    assert all(url.startswith("/graphiql/") or url == "data:," for url in loaded), loaded
    assert "//" not in "".join(url for url in loaded if url != "data:,")
    served = {url.removeprefix("/graphiql/") for url in loaded if url.startswith("/graphiql/")}
    assert served <= set(graphiql.asset_names())
    assert {"react.production.min.js", "graphiql.min.js", "graphiql.min.css"} <= served


def test_without_its_files_the_page_is_a_503_that_says_how_to_fetch_them(tmp_path: Path) -> None:
    (tmp_path / "react.production.min.js").write_text("react")

    response = graphiql.ide_response(tmp_path)

    assert response.status_code == 503
    body = bytes(response.body).decode()
    assert "GraphiQL is not installed" in body
    assert "graphiql.min.js" in body and "react.production.min.js" not in body
    assert graphiql.FETCH_COMMAND in body


def test_with_its_files_the_page_is_graphiql(tmp_path: Path) -> None:
    for name in graphiql.asset_names():
        (tmp_path / name).write_text("x")

    response = graphiql.ide_response(tmp_path)

    assert response.status_code == 200
    assert '<script src="/graphiql/graphiql.min.js"></script>' in bytes(response.body).decode()
    assert response.headers["content-security-policy"] == graphiql.content_security_policy()


def test_the_page_policy_allows_this_origin_and_the_page_own_inline_script_only() -> None:
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in graphiql.content_security_policy().split(";")
    )
    inline = re.findall(r"<script>(.*?)</script>", graphiql._page(), flags=re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    assert len(inline) == 1
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == f"'self' 'sha256-{digest}'"
    assert policy["connect-src"] == "'self'"  # HTTP and the websocket of this origin
    assert "http" not in graphiql.content_security_policy()


def test_the_static_route_answers_404_while_its_folder_is_missing_then_serves_it(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "assets"
    app = Starlette(routes=[graphiql.assets_route(folder)])

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/graphiql/graphiql.min.js")).status_code == 404
            folder.mkdir()
            (folder / "graphiql.min.js").write_text("GraphiQL()")
            response = await client.get("/graphiql/graphiql.min.js")
            assert response.status_code == 200 and response.text == "GraphiQL()"
            assert "javascript" in response.headers["content-type"]
            (tmp_path / "secret").write_text("no")
            assert (await client.get("/graphiql/%2E%2E/secret")).status_code == 404

    asyncio.run(scenario())
