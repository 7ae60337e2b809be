"""One writer per store: writing commands refuse to start (exit 3) while another holds the lock."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest

from socialtrading.infra.command_index import CommandRow
from socialtrading.infra.lock import StoreLock, StoreLockedError, advisory_key, describe_store
from socialtrading.infra.settings import Settings
from socialtrading.infra.store import LockLostError, open_store
from tests.e2e.server import running

CLI = [sys.executable, "-m", "socialtrading.entrypoints.cli"]


def _env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env["SOCIALTRADING_STORE"] = settings.store
    if settings.postgres_schema:
        env["SOCIALTRADING_POSTGRES_SCHEMA"] = settings.postgres_schema
    return env


def _event_count(settings: Settings) -> int:
    store = open_store(settings)
    try:
        return len(store.read(0, 1_000_000))
    finally:
        store.close()


def test_second_lock_is_refused_until_the_first_is_released(store_settings: Settings) -> None:
    first = StoreLock(store_settings).acquire()
    try:
        with pytest.raises(StoreLockedError):
            StoreLock(store_settings).acquire()
        assert first.held()
    finally:
        first.release()
    StoreLock(store_settings).acquire().release()


def test_admin_create_exits_3_and_prints_no_token_while_locked(
    store_settings: Settings, tmp_path: Path
) -> None:
    before = _event_count(store_settings)
    env = _env(store_settings)
    with StoreLock(store_settings):
        result = subprocess.run(
            [*CLI, "admin", "create", "--handle", "root"],
            env=env,
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
    assert result.returncode == 3
    assert "in use by another process" in result.stderr
    assert "token" not in result.stdout + result.stderr
    assert _event_count(store_settings) == before
    # after the holder stops, the command runs
    result = subprocess.run(
        [*CLI, "admin", "create", "--handle", "root"],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "token: " in result.stdout


def test_serve_exits_3_while_locked(store_settings: Settings, tmp_path: Path) -> None:
    with StoreLock(store_settings):
        result = subprocess.run(
            [*CLI, "serve", "--port", "0"],
            env=_env(store_settings),
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
    assert result.returncode == 3
    assert "in use by another process" in result.stderr


def test_store_name_hides_the_password() -> None:
    settings = Settings(store="postgresql://u:secret@db:5432/x")
    assert "secret" not in describe_store(settings)
    assert "u@db:5432" in describe_store(settings)
    sqlite = Settings(store="sqlite:///./data/events.db")
    assert describe_store(sqlite) == "sqlite:///./data/events.db"


def test_lost_postgres_lock_is_seen_and_fences_appends(store_settings: Settings) -> None:
    if not store_settings.postgres_schema:
        pytest.skip("an OS file lock cannot be lost while the process lives")
    lock = StoreLock(store_settings).acquire()
    store = open_store(store_settings)
    try:
        store.fence = lock.held
        assert lock.held()
        key = advisory_key(store_settings.postgres_schema)
        with psycopg.connect(store_settings.store, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                "AND classid::bigint = (%s::bigint >> 32) & 4294967295 "
                "AND objid::bigint = %s::bigint & 4294967295",
                (key, key),
            )
        assert not lock.held()
        with pytest.raises(LockLostError):
            store.append([], [CommandRow(uuid.uuid4(), "c1", accepted=False, stored=False)])
        # another process may now take the store
        StoreLock(store_settings).acquire().release()
    finally:
        store.close()
        lock.release()


def test_readyz_is_not_ready_while_the_lock_is_lost(store_settings: Settings) -> None:
    if not store_settings.postgres_schema:
        pytest.skip("an OS file lock cannot be lost while the process lives")
    lock = StoreLock(store_settings).acquire()
    try:
        with running(store_settings, lock=lock) as server:
            assert server.http.get("/readyz").status_code == 200
            _terminate_lock_holder(store_settings)
            answer = server.http.get("/readyz")
            assert answer.status_code == 503
            assert answer.json() == {"status": "unwritable"}
    finally:
        lock.release()


def _terminate_lock_holder(settings: Settings) -> None:
    key = advisory_key(settings.postgres_schema)
    with psycopg.connect(settings.store, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
            "AND classid::bigint = (%s::bigint >> 32) & 4294967295 "
            "AND objid::bigint = %s::bigint & 4294967295",
            (key, key),
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ready(port: int) -> httpx.Response | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1.0)
    except httpx.HTTPError:
        return None


def _start(settings: Settings, cwd: Path) -> tuple[subprocess.Popen[str], int]:
    port = _free_port()
    server = subprocess.Popen(
        [*CLI, "serve", "--port", str(port), "--log-level", "warning"],
        env=_env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        answer = _ready(port)
        if answer is not None and answer.status_code == 200:
            return server, port
        assert server.poll() is None, server.communicate()[1]
        time.sleep(0.2)
    server.kill()
    server.communicate()
    pytest.fail("the server did not become ready")


def test_second_serve_exits_3_and_starts_after_the_first_stops(
    store_settings: Settings, tmp_path: Path
) -> None:
    first, _ = _start(store_settings, tmp_path)
    try:
        before = _event_count(store_settings)
        second = subprocess.run(
            [*CLI, "serve", "--port", str(_free_port())],
            env=_env(store_settings),
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
        assert second.returncode == 3
        assert "in use by another process" in second.stderr
        admin = subprocess.run(
            [*CLI, "admin", "create", "--handle", "root"],
            env=_env(store_settings),
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
        assert admin.returncode == 3
        assert "token" not in admin.stdout + admin.stderr
        assert _event_count(store_settings) == before
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=30)
    # uvicorn re-raises SIGTERM after its graceful shutdown; the lock dies with the process
    assert first.returncode in (0, -signal.SIGTERM)
    again, _ = _start(store_settings, tmp_path)  # the lock went with the first server
    again.send_signal(signal.SIGTERM)
    again.communicate(timeout=30)
