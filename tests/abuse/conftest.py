"""The abuse suite: attacks against a live server process, which must stay responsive.

Each test starts `socialtrading serve --demo` as a separate process (as an operator would),
attacks it, and meanwhile a watcher asks `/healthz` every 50 ms: every answer must come
within one second.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

STARTUP_SECONDS = 90.0
HEALTH_BUDGET = 1.0  # seconds /healthz may take while the server is attacked


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Live:
    """A server process, its address and the demo tokens it printed."""

    process: subprocess.Popen[str]
    url: str
    tokens: dict[str, str]
    output: list[str] = field(default_factory=list)

    def client(self, timeout: float = 30.0) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=timeout)


class HealthWatch:
    """Asks /healthz every 50 ms in a thread; `worst` is the slowest answer (or failure)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.worst = 0.0
        self.failures: list[str] = []
        self.checks = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=5.0) as client:
            while not self._stop.is_set():
                started = time.perf_counter()
                try:
                    response = client.get("/healthz")
                    if response.status_code != 200:
                        self.failures.append(f"status {response.status_code}")
                except httpx.HTTPError as error:
                    self.failures.append(repr(error))
                self.worst = max(self.worst, time.perf_counter() - started)
                self.checks += 1
                self._stop.wait(0.05)

    def __enter__(self) -> HealthWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        deadline = time.monotonic() + 5
        while self.checks < 3 and time.monotonic() < deadline:  # a quick attack: ask anyway
            time.sleep(0.01)
        self._stop.set()
        self._thread.join(10)

    def assert_responsive(self) -> None:
        assert self.checks > 0, "the watcher never asked"
        assert not self.failures, self.failures[:5]
        assert self.worst < HEALTH_BUDGET, f"/healthz took {self.worst:.2f} s"


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    """`socialtrading serve --demo` in its own process over a fresh SQLite store."""
    port = _free_port()
    env = {
        **os.environ,
        "SOCIALTRADING_STORE": f"sqlite:///{tmp_path}/events.db",
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "socialtrading.entrypoints.cli",
            "serve",
            "--demo",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    output: list[str] = []
    tokens: dict[str, str] = {}
    reader = threading.Thread(target=lambda: output.extend(process.stdout or ()), daemon=True)
    reader.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_SECONDS
    try:
        while True:
            assert process.poll() is None, "".join(output)
            assert time.monotonic() < deadline, "the server did not start:\n" + "".join(output)
            for line in list(output):
                found = re.match(r"^\s+(\w+)\s+(\S{20,})\s*$", line)
                if found:
                    tokens[found.group(1)] = found.group(2)
            if {"alice", "bob", "demo_admin"} <= set(tokens):
                try:
                    if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
            time.sleep(0.1)
        yield Live(process, url, tokens, output)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                pytest.fail("the server ignored SIGTERM:\n" + "".join(output[-30:]))
        reader.join(5)
        if process.stdout is not None:
            process.stdout.close()
