"""GraphiQL in a real browser (Debian's chromium, driven by Playwright), with no internet.

Every request the page makes to a host other than the test server is aborted and recorded:
the page must work from the app's own files. The test types into the editors as a user
would, runs a query, then subscriptions (over graphql-ws in the page), and sees the events
of an order placed over HTTP. Without chromium it skips locally and fails in CI
(`.ci/run` installs it). Playwright's own browsers are never downloaded.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from tests.e2e.demo import buy_from_demo_maker, demo_server, require_tool, viewer_id
from tests.e2e.server import Server
from tests.e2e.test_graphiql_page import require_assets

CHROMIUM = os.environ.get("SOCIALTRADING_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WAIT_MS = 20_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless chromium."""
    executable = require_tool("chromium", CHROMIUM, "the GraphiQL browser test drives it")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class GraphiQLPage:
    """GraphiQL open in a page, offline: requests to other hosts are aborted and listed."""

    def __init__(self, page: Page, server: Server) -> None:
        self.page = page
        self.blocked: list[str] = []
        self.errors: list[str] = []
        page.set_default_timeout(WAIT_MS)
        page.route("**/*", self._only_the_server)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on(
            "console",  # Content-Security-Policy violations are reported here
            lambda message: self.errors.append(message.text) if message.type == "error" else None,
        )
        page.goto(server.url + "/graphql")
        self.query_editor = page.locator(".graphiql-query-editor .CodeMirror")
        self.response = page.locator(".graphiql-response .CodeMirror")
        expect(self.query_editor).to_be_visible(timeout=WAIT_MS)

    def _only_the_server(self, route: Route) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def _type(self, editor: str, text: str) -> None:
        """Replace an editor's text by typing it, then check what the editor holds."""
        self.page.locator(f"{editor} .CodeMirror-code").click()
        self.page.keyboard.press("Control+A")
        self.page.keyboard.press("Delete")
        self.page.keyboard.type(text)
        self.page.keyboard.press("Escape")  # close a completion list, if one is open
        typed = self.page.evaluate(
            "(selector) => document.querySelector(selector).CodeMirror.getValue()",
            f"{editor} .CodeMirror",
        )
        assert typed == text, f"the editor holds {typed!r}"

    def run(self, query: str) -> None:
        """Type `query` into the query editor and run it (the play button)."""
        self._type(".graphiql-query-editor", query)
        # GraphiQL parses the editor 100 ms after the last key (debounced) and picks HTTP or
        # the websocket from that parse: run once it is of the text typed, as a user would.
        self.page.wait_for_function(
            """(selector) => {
                const editor = document.querySelector(selector).CodeMirror;
                return editor.documentAST?.loc.source.body === editor.getValue();
            }""",
            arg=".graphiql-query-editor .CodeMirror",
        )
        self.page.locator(".graphiql-execute-button").click()

    def stop(self) -> None:
        """Stop the running subscription (the play button turned into a stop button)."""
        self.page.locator(".graphiql-execute-button").click()

    def set_headers(self, headers: dict[str, str]) -> None:
        """Type request headers into the Headers tab."""
        self.page.locator(".graphiql-editor-tools button[data-name=headers]").click()
        self._type(".graphiql-editor-tool .graphiql-editor:not(.hidden)", json.dumps(headers))

    def subscribed(self, server: Server, topic: str) -> None:
        """Wait until the running subscription listens on `topic` (else show the response)."""
        try:
            server.wait_for_listeners(topic)
        except AssertionError as error:
            raise AssertionError(f"{error}; GraphiQL shows {self.response.inner_text()}") from None

    def expect_response(self, *texts: str) -> None:
        """Wait until the response pane shows every one of `texts`."""
        for text in texts:
            expect(self.response).to_contain_text(text, timeout=WAIT_MS)


def test_graphiql_runs_a_query_and_subscriptions_in_chromium_without_internet(
    browser: Browser, tmp_path: Path
) -> None:
    require_assets()
    with demo_server(tmp_path) as server:
        alice = server.app.state.demo_tokens["alice"]
        context = browser.new_context()
        try:
            graphiql = GraphiQLPage(context.new_page(), server)

            graphiql.run("{ markets { symbol } }")
            graphiql.expect_response('"symbol": "BTC-USD"', '"symbol": "ETH-USD"')

            graphiql.set_headers({"Authorization": f"Bearer {alice}"})
            graphiql.run("{ me { handle } }")
            graphiql.expect_response('"handle": "alice"')

            graphiql.run("subscription { myOrders { side status } }")
            graphiql.subscribed(server, f"orders:{viewer_id(server, alice)}")
            buy_from_demo_maker(server, alice)
            graphiql.expect_response('"status": "FILLED"')
            graphiql.stop()

            graphiql.run('subscription { trades(market: "BTC-USD") { price quantity } }')
            graphiql.subscribed(server, "trades:BTC-USD")
            buy_from_demo_maker(server, alice)
            graphiql.expect_response('"price": "60050"', '"quantity": "0.01"')

            assert graphiql.blocked == []
            assert graphiql.errors == []
        finally:
            context.close()
