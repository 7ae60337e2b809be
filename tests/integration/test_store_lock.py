"""One writer per store: writing commands refuse to start (exit 3) while another holds the lock."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from socialtrading.infra.lock import StoreLock, StoreLockedError, describe_store
from socialtrading.infra.settings import Settings
from socialtrading.infra.store import open_store

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
