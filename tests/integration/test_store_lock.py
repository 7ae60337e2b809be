"""One writer per store: writing commands refuse to start (exit 3) while another holds the lock."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

from socialtrading.infra.command_index import CommandRow
from socialtrading.infra.lock import StoreLock, StoreLockedError, advisory_key, describe_store
from socialtrading.infra.settings import Settings
from socialtrading.infra.store import LockLostError, open_store

CLI = [sys.executable, "-m", "socialtrading.infra.cli"]


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
