"""The read-model database: SQLAlchemy over SQLite (default) or PostgreSQL.

Read models are derived data: a SQLite read store that cannot be read as a database or fails
SQLite's `quick_check` is moved aside (with its WAL) as `<name>.corrupt-<UTC time>`, with a
warning, and a fresh one is created; the projection runner then rebuilds every read model
from the event store. It is never the event store itself: a damaged event store is refused.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine, create_engine, event

from socialtrading.infra.settings import Settings, persistence_env

log = logging.getLogger(__name__)


def read_store_url(settings: Settings) -> str:
    """The read models' URL: SOCIALTRADING_READ_STORE, else beside the event store."""
    if settings.read_store:
        return settings.read_store
    url = urlsplit(settings.store)
    if url.scheme == "sqlite":
        path = url.path[1:]
        folder = path.rsplit("/", 1)[0] if "/" in path else "."
        return f"sqlite:///{folder}/readmodels.db"
    return settings.store


def open_read_store(settings: Settings) -> Engine:
    """An engine on the read-model database (the folder or schema is created if needed; a
    damaged SQLite file is moved aside first)."""
    url = read_store_url(settings)
    if url.startswith("sqlite"):
        path = Path(persistence_env(url)["SQLITE_DBNAME"])  # validated; the folder exists
        _move_aside_if_damaged(path, settings.store)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            # Checkpoint the WAL every 64 MiB rather than every 4 MiB (SQLite's default): a
            # projection batch writes more than 4 MiB, so the default copies every batch's
            # pages into the database (and syncs) at its commit, pages the next batches
            # rewrite included. Measured catching up: commits take half as long.
            cursor.execute("PRAGMA wal_autocheckpoint=16384")
            cursor.execute("PRAGMA journal_size_limit=67108864")  # then shrink the WAL back
            # 64 MiB of page cache, not 2 MiB: the feed's fan-out inserts rows at random
            # viewers' keys, so with the default most inserts read their page back first
            cursor.execute("PRAGMA cache_size=-65536")
            cursor.close()

        return engine
    dsn = url.replace("postgresql://", "postgresql+psycopg://", 1).replace(
        "postgres://", "postgresql+psycopg://", 1
    )
    options: dict[str, Any] = {"pool_size": 5, "max_overflow": 5, "pool_pre_ping": True}
    schema = settings.postgres_schema
    if schema:
        options["connect_args"] = {"options": f"-csearch_path={schema}"}
    return create_engine(dsn, **options)


def _move_aside_if_damaged(path: Path, event_store: str) -> None:
    """Move a damaged SQLite read store (and its -wal and -shm) aside, saying so."""
    if not path.exists():
        return
    damage = _damage(path)
    if damage is None:
        return
    if urlsplit(event_store).scheme == "sqlite":
        store_path = Path(persistence_env(event_store)["SQLITE_DBNAME"])
        if store_path.exists() and store_path.samefile(path):
            raise RuntimeError(f"the event store {path} is damaged ({damage})")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        moved = path.with_name(path.name + suffix)
        if moved.exists():
            moved.rename(aside.with_name(aside.name + suffix))
    log.warning(
        "the read store %s is damaged (%s): moved it aside to %s; the read models are "
        "rebuilt from the event store",
        path,
        damage,
        aside,
    )


def _damage(path: Path) -> str | None:
    """What SQLite finds wrong with the file (None: nothing).

    An error opening it (locked, no permission) is raised: that is no damage to repair.
    """
    try:
        connection = sqlite3.connect(path, timeout=30)
        try:
            problems = [row[0] for row in connection.execute("PRAGMA quick_check")]
        finally:
            connection.close()
    except sqlite3.OperationalError as error:
        raise RuntimeError(f"cannot open the read store {path}: {error}") from error
    except sqlite3.DatabaseError as error:  # not a database, or malformed
        return str(error)
    if problems == ["ok"]:
        return None
    return "; ".join(str(problem) for problem in problems[:3])
