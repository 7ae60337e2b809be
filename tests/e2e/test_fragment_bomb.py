"""The issue's fragment bomb against the real `socialtrading serve` process.

1.2 KB standing for 2^29 fields once burnt a core for minutes and made the server deaf to
SIGTERM. Now it is refused in milliseconds, `/healthz` keeps answering meanwhile, and the
process stops on SIGTERM while the bombs keep coming.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.unit.graphql.test_validation import fragment_bomb

BOMB = fragment_bomb(29)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    """`socialtrading serve` on a fresh SQLite store; killed if the test leaves it running."""
    port = _free_port()
    env = {**os.environ, "SOCIALTRADING_STORE": f"sqlite:///{tmp_path}/events.db"}
    command = [sys.executable, "-m", "socialtrading.entrypoints.cli", "serve", "--port", str(port)]
    with (tmp_path / "stderr.txt").open("wb") as stderr:
        process = subprocess.Popen(
            [*command, "--log-level", "info"], env=env, stdout=subprocess.DEVNULL, stderr=stderr
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "stderr.txt").read_text()
            assert time.monotonic() < deadline, "the server did not start"
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield process, url, tmp_path / "stderr.txt"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def _bomb(client: httpx.Client) -> tuple[float, list[object]]:
    started = time.monotonic()
    response = client.post("/graphql", json={"query": BOMB})
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text[:300]
    return elapsed, [error["extensions"]["code"] for error in response.json()["errors"]]


def test_the_bomb_is_refused_fast_the_server_stays_responsive_and_stops_on_sigterm(
    serve: tuple[subprocess.Popen[bytes], str, Path],
) -> None:
    process, url, log = serve
    assert len(BOMB) < 1300
    with httpx.Client(base_url=url, timeout=30) as client:
        with ThreadPoolExecutor(4) as pool:
            bombs = [pool.submit(_bomb, client) for _ in range(4)]
            health = []
            for _ in range(5):
                started = time.monotonic()
                assert client.get("/healthz", timeout=1).status_code == 200
                health.append(time.monotonic() - started)
            answers = [bomb.result() for bomb in bombs]
        assert all(codes == ["SELECTIONS"] for _, codes in answers), answers
        assert max(elapsed for elapsed, _ in answers) < 2, answers
        assert max(health) < 1, health

        # SIGTERM while bombs keep arriving: the process still stops, and soon.
        stop = threading.Event()

        def keep_bombing() -> None:
            while not stop.is_set():
                try:
                    client.post("/graphql", json={"query": BOMB}, timeout=5)
                except httpx.TransportError:
                    return

        workers = [threading.Thread(target=keep_bombing) for _ in range(3)]
        for worker in workers:
            worker.start()
        try:
            time.sleep(0.5)
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            code = process.wait(15)
            stopped_in = time.monotonic() - started
        finally:
            stop.set()
            for worker in workers:
                worker.join(10)
    # uvicorn shuts down cleanly, then re-raises the signal it caught: exit status -SIGTERM
    assert code in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in log.read_text()
    assert stopped_in < 8, f"the server took {stopped_in:.1f} s to stop"
