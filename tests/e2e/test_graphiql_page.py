"""GraphiQL through the real app: its page and every file the page loads, served locally."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from socialtrading.graphql import graphiql
from tests.e2e.demo import IN_CI, demo_server


def require_assets() -> None:
    """Skip (fail in CI) when the install step has not fetched GraphiQL's files."""
    missing = graphiql.missing_assets()
    if missing:
        message = f"GraphiQL's files are not fetched ({graphiql.FETCH_COMMAND}): {missing}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


def test_graphiql_page_and_all_it_loads_come_from_the_app(tmp_path: Path) -> None:
    require_assets()
    with demo_server(tmp_path) as server:
        page = server.http.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "script-src 'self' 'sha256-" in page.headers["content-security-policy"]
        loaded = re.findall(r"""(?:src|href)="(/graphiql/[^"]+)\"""", page.text)
        assert len(loaded) == 6, loaded
        for url in loaded:
            response = server.http.get(url)
            assert response.status_code == 200, url
            name = url.removeprefix("/graphiql/")
            assert response.content == (graphiql.ASSETS / name).read_bytes()
        assert server.http.get("/graphiql/graphiql.toml").status_code == 404
