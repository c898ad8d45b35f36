"""The one place that opens gum's database: private file, WAL, busy timeout, migrations applied."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sqlite_utils import Database

from . import paths
from .errors import StorageError

DB_NAME = "gum.db"
BUSY_TIMEOUT_MS = 10_000


def db_path() -> Path:
    """The database file in the data dir."""
    return paths.data_dir() / DB_NAME


def open_db(path: Path | None = None, *, migrate: bool = True) -> Database:
    """Open (creating if needed) the database at `path`, mode 0600, in WAL mode, migrated to the latest schema."""
    path = Path(path) if path else db_path()
    paths.ensure_private_dir(path.parent)
    if not path.exists():
        # Create the file ourselves so it is never, even for a moment, readable by others.
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        os.close(fd)
    # SQLite creates the -wal and -shm side files with the process umask: keep them private too.
    old_umask = os.umask(0o077)
    try:
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
        # Autocommit outside explicit transactions: every write in Store sits in BEGIN IMMEDIATE ... COMMIT,
        # and nothing is left half-open by the sqlite3 module's implicit transactions.
        conn.isolation_level = None
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = NORMAL")
        db = Database(conn)
        if migrate:
            from .migrations import migrations

            migrations.apply(db)
    except sqlite3.DatabaseError as exc:
        raise StorageError(f"cannot open the database {path}: {exc}") from exc
    finally:
        os.umask(old_umask)
    return db
