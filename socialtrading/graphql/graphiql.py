"""GraphiQL served by the app itself: its page and its scripts, with no CDN.

The page (`static/graphiql.html`) loads React, GraphiQL and the explorer plugin from
`/graphiql/<file>`, a static route over `static/graphiql/`. That folder is filled at install
time from the npm packages pinned in `static/graphiql.toml` (`scripts/fetch_graphiql.py`,
run by `make`); nothing is fetched at run time. Without those files the page answers 503
with the command that fetches them, never a blank page.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import tomllib
from functools import cache
from pathlib import Path

from starlette.responses import HTMLResponse
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
ASSETS = STATIC / "graphiql"
PREFIX = "/graphiql"
FETCH_COMMAND = "python scripts/fetch_graphiql.py"  # or `make run`, which runs it


@cache
def asset_names() -> tuple[str, ...]:
    """The file names the page needs, as the manifest lists them."""
    manifest = tomllib.loads((STATIC / "graphiql.toml").read_text(encoding="utf-8"))
    return tuple(served for package in manifest["package"] for served in package["files"].values())


def missing_assets(folder: Path = ASSETS) -> list[str]:
    """The needed files that are not in `folder` (none once the install step has run)."""
    return [name for name in asset_names() if not (folder / name).is_file()]


@cache
def _page() -> str:
    return (STATIC / "graphiql.html").read_text(encoding="utf-8")


@cache
def content_security_policy() -> str:
    """The page's policy: scripts, styles and connections to this origin only.

    The browser itself then refuses anything from elsewhere. The page's one inline script is
    allowed by its hash; GraphiQL sets inline styles, so those are allowed.
    """
    inline = re.findall(r"<script>(.*?)</script>", _page(), flags=re.DOTALL)
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()}'"
        for code in inline
    )
    return (
        "default-src 'none'; "
        f"script-src 'self' {hashes}; "
        "style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; "
        "connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def ide_response(folder: Path = ASSETS) -> HTMLResponse:
    """GraphiQL's page, or a 503 page naming the missing files and how to fetch them."""
    missing = missing_assets(folder)
    if not missing:
        return HTMLResponse(_page(), headers={"Content-Security-Policy": content_security_policy()})
    names = ", ".join(html.escape(name) for name in missing)
    body = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>GraphiQL is not installed</title></head><body>"
        "<h1>GraphiQL is not installed</h1>"
        f"<p>Its files are fetched at install time and are missing here: {names}.</p>"
        f"<p>Run <code>{FETCH_COMMAND}</code> in the source tree (or <code>make run</code>), "
        "then reload. The GraphQL API itself works: POST queries to this URL.</p>"
        "</body></html>"
    )
    return HTMLResponse(body, status_code=503, headers={"Retry-After": "60"})


class _Assets(StaticFiles):
    """Static files whose folder may be missing (answered 404) or filled after start-up."""

    async def check_config(self) -> None:
        if self.directory is not None and Path(self.directory).is_dir():
            await super().check_config()


def assets_route(folder: Path = ASSETS) -> Mount:
    """The static route of GraphiQL's files."""
    return Mount(PREFIX, app=_Assets(directory=folder, check_dir=False), name="graphiql")
