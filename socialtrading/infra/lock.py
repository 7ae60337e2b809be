"""One writer per store: an exclusive lock held for as long as a process may write the store.

SQLite: an OS file lock (flock) on `<events db>.lock` beside the database; PostgreSQL: a
session-level advisory lock on a dedicated connection. Both die with the process.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

from socialtrading.infra.settings import Settings, persistence_env

# Part of the lock key: the event store application's former class name, kept so that a
# writer of an older version and one of this version contend for the same lock.
APPLICATION = "Exchange"


class StoreLockedError(Exception):
    """Another process holds the store's writer lock."""


def describe_store(settings: Settings) -> str:
    """Name the store for messages, without any password."""
    if settings.store.startswith("sqlite"):
        return settings.store  # a file path: no credentials (urlunsplit would drop a slash)
    url = urlsplit(settings.store)
    if url.password is not None:
        host = url.hostname or ""
        netloc = f"{url.username}@{host}" + (f":{url.port}" if url.port else "")
        url = url._replace(netloc=netloc)
    text = urlunsplit(url)
    if settings.postgres_schema:
        text += f" (schema {settings.postgres_schema})"
    return text


def advisory_key(schema: str | None) -> int:
    """Derive the signed 64-bit advisory lock key from the schema and application name."""
    digest = hashlib.sha256(f"{schema or 'public'}/{APPLICATION}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class StoreLock:
    """The exclusive writer lock of one store; `acquire` raises StoreLockedError if taken."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._env = persistence_env(settings.store, settings.postgres_schema)
        self._file: IO[str] | None = None
        self._connection: psycopg.Connection[Any] | None = None

    @property
    def store(self) -> str:
        """The store's name for messages (no password)."""
        return describe_store(self._settings)

    def acquire(self) -> StoreLock:
        """Take the lock without waiting; raise StoreLockedError if another process holds it."""
        if "SQLITE_DBNAME" in self._env:
            path = Path(self._env["SQLITE_DBNAME"] + ".lock")
            handle = path.open("a", encoding="utf-8")
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as error:
                handle.close()
                raise StoreLockedError(self.store) from error
            handle.truncate(0)
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            self._file = handle
            return self
        connection = psycopg.connect(
            dbname=self._env["POSTGRES_DBNAME"],
            host=self._env["POSTGRES_HOST"],
            port=int(self._env["POSTGRES_PORT"]),
            user=self._env["POSTGRES_USER"],
            password=self._env["POSTGRES_PASSWORD"] or None,
            autocommit=True,
            application_name="socialtrading-writer-lock",
        )
        row = connection.execute(
            "SELECT pg_try_advisory_lock(%s)", (advisory_key(self._settings.postgres_schema),)
        ).fetchone()
        if not row or not row[0]:
            connection.close()
            raise StoreLockedError(self.store)
        self._connection = connection
        return self

    def held(self) -> bool:
        """Tell whether the lock is still held (for PostgreSQL: its connection is alive)."""
        if self._file is not None:
            return True
        if self._connection is None or self._connection.closed:
            return False
        try:
            self._connection.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

    def release(self) -> None:
        """Release the lock (idempotent)."""
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None
        if self._connection is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None

    def __enter__(self) -> StoreLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
