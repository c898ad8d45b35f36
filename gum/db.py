"""The one place that opens gum's database: SQLCipher-encrypted, private file, WAL, busy timeout, migrated.

The key comes from gum.keys (OS keyring, a 0600 key file, or a passphrase) and is handed to SQLCipher as a
raw 256-bit key (`PRAGMA key = "x'...'"`), so no PBKDF2 runs on each open. A plaintext database left by an
earlier version is converted in place the first time it is opened (see `_encrypt_plaintext`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from sqlite_utils import Database

from . import keys, paths
from .errors import StorageError

DB_NAME = "gum.db"
BUSY_TIMEOUT_MS = 10_000
SQLITE_HEADER = b"SQLite format 3\x00"
PLAINTEXT_BACKUP_SUFFIX = ".plaintext-backup"
ENCRYPTING_SUFFIX = ".encrypting"


def _driver():
    from sqlcipher3 import dbapi2

    return dbapi2


def __getattr__(name: str):
    # The driver's exception classes, for code that catches database errors: sqlcipher3's classes are not
    # the standard library's sqlite3 ones, so `except sqlite3.IntegrityError` would miss them.
    if name in ("Error", "DatabaseError", "IntegrityError", "OperationalError"):
        return getattr(_driver(), name)
    raise AttributeError(name)


def db_path() -> Path:
    """The database file in the data dir."""
    return paths.data_dir() / DB_NAME


def is_plaintext(path: Path) -> bool:
    """True if `path` is an ordinary, unencrypted SQLite file (an encrypted one starts with random bytes)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(16) == SQLITE_HEADER
    except OSError:
        return False


def _has_content(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except OSError:
        return False


def database_key(*, create: bool = True) -> str:
    """The SQLCipher raw key (64 hex digits) derived from gum's master secret."""
    return keys.derive(keys.master_key(create=create), "database").hex()


def _key_pragma(key_hex: str, schema: str = "") -> str:
    prefix = f"{schema}." if schema else ""
    return f"PRAGMA {prefix}key = \"x'{key_hex}'\""


_quieted = False


def _connect(path: Path, key_hex: str | None):
    """A connection to `path`, keyed (or plain when key_hex is None), not yet checked."""
    global _quieted
    dbapi2 = _driver()
    conn = dbapi2.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    if not _quieted:
        # SQLCipher logs a failed key check to stderr; gum reports it as one clear message instead.
        conn.execute("PRAGMA cipher_log_level = NONE")
        _quieted = True
    # Autocommit outside explicit transactions: every write in Store sits in BEGIN IMMEDIATE ... COMMIT,
    # and nothing is left half-open by the sqlite3 module's implicit transactions.
    conn.isolation_level = None
    if key_hex is not None:
        conn.execute(_key_pragma(key_hex))  # must come before anything reads the file
    return conn


def _check_key(conn, path: Path) -> None:
    """Read page 1: a wrong or missing key fails here, with a message that says what to do."""
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except _driver().DatabaseError:
        conn.close()
        prot = keys.protection()
        where = {"keyring": f"the OS keyring ({prot.where})", "file": f"the key file {prot.where}",
                 "passphrase": "your passphrase"}.get(prot.store, "no key")
        raise StorageError(
            f"cannot read the database {path}: it is encrypted and the key gum has does not open it "
            f"(key from {where}). "
            + ("Check the passphrase and try again. " if prot.store == "passphrase" else "")
            + "Restore the key this database was made with (keyring entry gum/master-key or the key file), "
            "or move the database away to start afresh."
        ) from None


def _table_counts(conn, schema: str = "main") -> dict[str, int]:
    names = [
        r[0]
        for r in conn.execute(f"SELECT name FROM {schema}.sqlite_master WHERE type = 'table' ORDER BY name")
    ]
    return {n: conn.execute(f'SELECT count(*) FROM {schema}."{n}"').fetchone()[0] for n in names}


def _shred(path: Path) -> None:
    """Overwrite then delete a plaintext file (best effort: journaling and SSDs may keep old blocks)."""
    try:
        size = path.stat().st_size
        with open(path, "r+b") as fh:
            chunk = b"\x00" * (1 << 20)
            left = size
            while left > 0:
                left -= fh.write(chunk[: min(left, len(chunk))])
            fh.flush()
            os.fsync(fh.fileno())
    except OSError:
        pass
    path.unlink(missing_ok=True)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _encrypt_plaintext(path: Path, key_hex: str) -> None:
    """Convert a plaintext database to SQLCipher in place, losing nothing.

    Encrypted copy beside it, verified (integrity check and the row count of every table), then swapped in
    with one atomic rename. A copy of the plaintext is kept until the swap has succeeded, then it and the
    plaintext side files are overwritten and removed. A crash at any step leaves either the old plaintext
    database (converted again next time) or the new encrypted one (the leftover backup is removed next time).
    """
    tmp = path.with_name(path.name + ENCRYPTING_SUFFIX)
    backup = path.with_name(path.name + PLAINTEXT_BACKUP_SUFFIX)
    tmp.unlink(missing_ok=True)  # a half-made copy from a crash
    dbapi2 = _driver()
    plain = _connect(path, None)
    # A second connection holds the write lock for the whole copy, so no writer slips in between the copy
    # and the count (sqlcipher_export cannot run inside a transaction of its own connection).
    guard = _connect(path, None)
    try:
        # Fold the WAL into the main file so the copy and the backup hold everything.
        plain.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        guard.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        guard.execute("BEGIN IMMEDIATE")
        user_version = plain.execute("PRAGMA user_version").fetchone()[0]
        plain.execute(f"ATTACH DATABASE ? AS encrypted KEY \"x'{key_hex}'\"", [str(tmp)])
        plain.execute("SELECT sqlcipher_export('encrypted')")
        plain.execute(f"PRAGMA encrypted.user_version = {int(user_version)}")
        before = _table_counts(plain, "main")
        plain.execute("DETACH DATABASE encrypted")
        # Count on a fresh connection: this one's view of the attached schema predates the export.
        check = _connect(tmp, key_hex)
        try:
            ok = check.execute("PRAGMA integrity_check").fetchone()[0]
            recount = _table_counts(check)
        finally:
            check.close()
        if ok != "ok" or recount != before:
            raise StorageError(
                f"the encrypted copy of {path} did not verify (integrity: {ok}; rows copied: "
                f"{recount == before}); the plaintext database is unchanged"
            )
        os.chmod(tmp, 0o600)
        shutil.copyfile(path, backup)
        os.chmod(backup, 0o600)
        plain.close()
        # The swap, still under the write lock: atomic, so the name always holds a whole database.
        os.replace(tmp, path)
        _fsync_dir(path.parent)
        guard.execute("ROLLBACK")
        guard.close()
    except dbapi2.DatabaseError as exc:
        tmp.unlink(missing_ok=True)
        raise StorageError(f"could not encrypt the plaintext database {path} (it is unchanged): {exc}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        plain.close()
        guard.close()
    for side in ("-wal", "-shm", "-journal"):
        _shred(path.with_name(path.name + side))
    _shred(backup)


def _migration_lock(path: Path):
    """Only one process converts a plaintext database; the others wait, then find it encrypted."""
    return paths.file_lock(path.with_name(path.name + ".lock"))


def _finish_interrupted_migration(path: Path) -> None:
    """Tidy after a crash during _encrypt_plaintext, so no plaintext copy is left behind."""
    tmp = path.with_name(path.name + ENCRYPTING_SUFFIX)
    backup = path.with_name(path.name + PLAINTEXT_BACKUP_SUFFIX)
    if backup.exists():
        if not path.exists() or not _has_content(path):
            os.replace(backup, path)  # the swap never happened: put the plaintext back, convert it below
        elif not is_plaintext(path):
            _shred(backup)  # the swap happened: the backup is no longer needed
        else:
            backup.unlink()  # the swap did not happen and the original is intact
    if tmp.exists() and (is_plaintext(path) or not path.exists()):
        tmp.unlink()


def open_db(path: Path | None = None, *, migrate: bool = True) -> Database:
    """Open (creating if needed) the encrypted database at `path`: mode 0600, WAL, migrated to the latest schema.

    A plaintext database from an earlier version is encrypted in place first. A wrong or missing key raises
    StorageError with what to do; nothing else in gum opens the file.
    """
    path = Path(path) if path else db_path()
    paths.ensure_private_dir(path.parent)
    dbapi2 = _driver()
    # SQLite creates the -wal and -shm side files with the process umask: keep them private too.
    old_umask = os.umask(0o077)
    try:
        existing_encrypted = _has_content(path) and not is_plaintext(path)
        key_hex = database_key(create=not existing_encrypted)
        if is_plaintext(path) or path.with_name(path.name + PLAINTEXT_BACKUP_SUFFIX).exists():
            with _migration_lock(path):
                _finish_interrupted_migration(path)
                if is_plaintext(path):
                    _encrypt_plaintext(path, key_hex)
        if not path.exists():
            # Create the file ourselves so it is never, even for a moment, readable by others.
            fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
            os.close(fd)
        conn = _connect(path, key_hex)
        _check_key(conn, path)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = NORMAL")
        # Deleted rows (a revoked proposition, its evidence) are zeroed, not left in free pages for anyone
        # holding the key; the stdlib's SQLite had this compiled in, SQLCipher's build does not.
        conn.execute("PRAGMA secure_delete = ON")
        db = Database(conn)
        if migrate:
            from .migrations import migrations

            if migrations.pending(db):
                # One connection migrates; another thread or process opening the file at the same moment
                # waits here (busy timeout) and then finds nothing pending, instead of applying it twice.
                conn.execute("BEGIN IMMEDIATE")
                try:
                    migrations.apply(db)
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
    except dbapi2.DatabaseError as exc:
        raise StorageError(f"cannot open the database {path}: {exc}") from exc
    except OSError as exc:
        raise StorageError(f"cannot open the database {path}: {exc}") from exc
    finally:
        os.umask(old_umask)
    return db


def backup_db(dest: Path, path: Path | None = None) -> dict[str, int]:
    """Write an encrypted copy of the database to `dest` (same key), verified; returns its row counts."""
    dest = Path(dest)
    if dest.exists():
        raise StorageError(f"{dest} already exists; choose a new name for the backup")
    db = open_db(path)
    key_hex = database_key(create=False)
    tmp = dest.with_name(f".{dest.name}.partial")
    tmp.unlink(missing_ok=True)
    old_umask = os.umask(0o077)
    source = db.conn
    try:
        # SQLite's online backup: a consistent snapshot even while the agent writes, page for page, and
        # SQLCipher keeps it encrypted because both ends have the same key.
        target = _connect(tmp, key_hex)
        try:
            source.backup(target)
            ok = target.execute("PRAGMA integrity_check").fetchone()[0]
            counts = _table_counts(target)
        finally:
            target.close()
        if ok != "ok":
            raise StorageError(f"the backup did not verify ({ok}); it was not kept")
        os.chmod(tmp, 0o600)
        os.replace(tmp, dest)
    except _driver().DatabaseError as exc:
        raise StorageError(f"cannot write the backup {dest}: {exc}") from exc
    finally:
        os.umask(old_umask)
        tmp.unlink(missing_ok=True)
        source.close()
    return counts
