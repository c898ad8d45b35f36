"""Encryption at rest: real SQLCipher files, real key files, a real keyring backend interface, the real CLI."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat

import keyring
import pytest
from click.testing import CliRunner
from keyring.backend import KeyringBackend
from sqlite_utils import Database

from gum import crypto, keys
from gum.cli import main
from gum.db import ENCRYPTING_SUFFIX, PLAINTEXT_BACKUP_SUFFIX, SQLITE_HEADER, db_path, open_db
from gum.errors import StorageError
from gum.records import Observation, Proposition
from gum.store import Store

# Porter reduces the marker to "zqxplum" in the FTS index: scanning for the stem catches that copy too.
MARKER = "zqxplumtarts"
MARKER_STEM = b"zqxplum"


class MemoryKeyring(KeyringBackend):
    """An in-process keyring backend: the real keyring interface, nothing leaves the test."""

    priority = 1

    def __init__(self):
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.entries.get((service, username))

    def set_password(self, service, username, password):
        self.entries[(service, username)] = password

    def delete_password(self, service, username):
        self.entries.pop((service, username), None)


class BrokenSecretService(MemoryKeyring):
    """A keyring that is installed but fails when used, like Secret Service with no D-Bus session."""

    def get_password(self, service, username):
        raise keyring.errors.KeyringError("org.freedesktop.secrets was not provided by any .service files")


@pytest.fixture(autouse=True)
def fresh_keys():
    keys.forget_cached_keys()
    yield
    keys.forget_cached_keys()


@pytest.fixture
def with_keyring(monkeypatch):
    """Install a keyring backend for one test, then put the previous one back."""
    previous = keyring.get_keyring()
    monkeypatch.setenv("GUM_KEY_STORE", "auto")

    def install(backend):
        keyring.set_keyring(backend)
        return backend

    yield install
    keyring.set_keyring(previous)


def _files_containing(folder, needle: bytes) -> list[str]:
    hits = []
    for path in folder.rglob("*"):
        if path.is_file() and needle in path.read_bytes().lower():
            hits.append(str(path))
    return hits


def _seed(store: Store, n_obs: int = 30, n_props: int = 10) -> None:
    for i in range(n_obs):
        store.add_observation(
            Observation(observer="screen", app="Firefox", window=f"tab {i}",
                        text=f"reading about {MARKER} recipe number {i} and running late"),
            merge_within=None,
        )
    for i in range(n_props):
        store.insert_proposition(
            Proposition(text=f"The user bakes {MARKER} pies, batch {i}", reasoning="seen running recipes",
                        confidence=7, decay=5),
            evidence=[i + 1],
        )


def _table_counts(conn) -> dict[str, int]:
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    return {n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}


def _fts_results(conn) -> dict[str, list[int]]:
    out = {}
    for term in (MARKER, "run", "recipe", "pie", "batch"):
        out["o:" + term] = [r[0] for r in conn.execute(
            "SELECT rowid FROM observations_fts WHERE observations_fts MATCH ? ORDER BY rowid", [term])]
        out["p:" + term] = [r[0] for r in conn.execute(
            "SELECT rowid FROM propositions_fts WHERE propositions_fts MATCH ? ORDER BY rowid", [term])]
    return out


def test_a_copied_data_folder_holds_no_user_text_and_does_not_open_without_the_key(gum_dirs, tmp_path,
                                                                                   monkeypatch):
    jsonl = tmp_path / "day.jsonl"
    jsonl.write_text("".join(
        json.dumps({"ts": f"2026-03-02T09:{m:02d}:00Z", "observer": "screen", "app": "Notes",
                    "window": f"{MARKER} plan", "text": f"Shopping list: {MARKER}, flour, butter ({m})"}) + "\n"
        for m in range(20)
    ))
    result = CliRunner().invoke(main, ["ingest", "--no-process", str(jsonl)])
    assert result.exit_code == 0, result.output
    assert "Stored " in result.output and " 20 " not in result.output, "20 captures of one note: one or two activities"
    store = Store()
    store.insert_proposition(Proposition(text=f"The user is planning {MARKER} for the weekend", confidence=6,
                                         decay=4), evidence=[1])
    crypto.write_private(gum_dirs / "screens" / "0001.png.enc", f"screen pixels showing {MARKER}".encode())
    assert store.search(MARKER)  # the text is really in there, searchable
    # Scan while the store is still open (WAL and shared-memory files present) and after it is closed.
    assert {p.name for p in gum_dirs.iterdir()} >= {"gum.db", "screens"}
    assert _files_containing(gum_dirs, MARKER_STEM) == []
    store.close()
    assert _files_containing(gum_dirs, MARKER_STEM) == []
    assert SQLITE_HEADER not in (gum_dirs / "gum.db").read_bytes()[:16]

    stolen = tmp_path / "stolen"
    shutil.copytree(gum_dirs, stolen)
    with pytest.raises(sqlite3.DatabaseError):  # an ordinary SQLite reader sees noise
        sqlite3.connect(stolen / "gum.db").execute("SELECT * FROM sqlite_master").fetchall()
    monkeypatch.setenv("GUM_KEY_FILE", str(tmp_path / "thief" / "master.key"))
    with pytest.raises(StorageError, match="key is missing"):
        open_db(stolen / "gum.db")
    assert not (tmp_path / "thief" / "master.key").exists()  # no fresh key is made over existing data
    (tmp_path / "thief").mkdir()
    (tmp_path / "thief" / "master.key").write_text(os.urandom(32).hex())
    with pytest.raises(StorageError, match="key gum has does not open it"):
        open_db(stolen / "gum.db")
    with pytest.raises(StorageError, match="different key"):
        crypto.read_private(stolen / "screens" / "0001.png.enc")


def test_the_key_is_random_256_bit_created_once_in_a_private_file_outside_the_data_folder(gum_dirs):
    open_db().conn.close()
    key_file = keys.key_file_path()
    assert not key_file.resolve().is_relative_to(gum_dirs.resolve())
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    first = key_file.read_text().strip()
    assert len(bytes.fromhex(first)) == 32
    open_db().conn.close()
    assert key_file.read_text().strip() == first
    assert keys.protection().store == "file"


def test_the_key_can_live_in_the_os_keyring(with_keyring, gum_dirs):
    backend = with_keyring(MemoryKeyring())
    store = Store()
    store.add_by_hand(f"Prefers {MARKER} over cake")
    store.close()
    stored = backend.entries[(keys.KEYRING_SERVICE, keys.KEYRING_USER)]
    assert len(bytes.fromhex(stored)) == 32
    assert not keys.key_file_path().exists()
    assert keys.protection().store == "keyring"
    keys.forget_cached_keys()
    assert Store().search(MARKER)[0][0].text == f"Prefers {MARKER} over cake"
    out = CliRunner().invoke(main, ["status"]).output
    assert "key in the OS keyring" in out and "MemoryKeyring" in out


def test_a_keyring_that_fails_when_used_falls_back_to_the_key_file_and_status_says_so(with_keyring):
    with_keyring(BrokenSecretService())
    Store().close()
    assert keys.key_file_path().exists()
    prot = keys.protection()
    assert prot.store == "file" and "org.freedesktop.secrets" in prot.note
    out = CliRunner().invoke(main, ["status"]).output
    assert "key in the file" in out and "Fallback" in out and "keyring failed" in out


def test_with_no_keyring_backend_at_all_the_key_file_is_used(with_keyring):
    from keyring.backends import fail

    with_keyring(fail.Keyring())
    Store().close()
    prot = keys.protection()
    assert prot.store == "file" and "no OS keyring" in prot.note
    status = json.loads(CliRunner().invoke(main, ["status", "--json"]).output)
    assert status["protection"]["store"] == "file"
    assert status["protection"]["where"] == str(keys.key_file_path())


def test_a_wrong_key_gives_one_clear_error_line_not_a_traceback(tmp_path):
    Store().close()
    keys.key_file_path().write_text(os.urandom(32).hex())
    with pytest.raises(StorageError, match="encrypted and the key gum has does not open it"):
        open_db()
    result = CliRunner().invoke(main, ["status"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: cannot read the database")
    assert "Traceback" not in result.output and "sqlcipher" not in result.output.lower().split("(")[0]


def test_a_damaged_key_file_is_reported_as_damaged():
    Store().close()
    keys.key_file_path().write_text("not hex at all")
    with pytest.raises(StorageError, match="key file .* is damaged"):
        open_db()


def test_passphrase_mode_derives_the_key_and_stores_none(monkeypatch, gum_dirs):
    monkeypatch.setenv("GUM_KEY_STORE", "passphrase")
    monkeypatch.setenv("GUM_PASSPHRASE", "correct horse battery staple")
    store = Store()
    store.add_by_hand(f"Keeps {MARKER} secret")
    store.close()
    assert not keys.key_file_path().exists()
    assert keys.salt_path().exists()
    assert keys.protection().store == "passphrase"
    assert _files_containing(gum_dirs, MARKER_STEM) == []
    keys.forget_cached_keys()
    monkeypatch.setenv("GUM_PASSPHRASE", "wrong horse")
    with pytest.raises(StorageError, match="does not open it"):
        open_db()
    keys.forget_cached_keys()
    monkeypatch.delenv("GUM_PASSPHRASE")
    keys.set_passphrase("correct horse battery staple")
    assert Store().search(MARKER)


def test_sealed_files_round_trip_are_private_and_any_change_is_detected(tmp_path):
    target = tmp_path / "shots" / "a.png.enc"
    payload = os.urandom(1000) + MARKER.encode()
    crypto.write_private(target, payload)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    blob = target.read_bytes()
    assert MARKER.encode() not in blob and crypto.is_sealed(blob)
    assert crypto.read_private(target) == payload
    assert crypto.unseal(crypto.seal(b"")) == b""
    assert crypto.seal(b"same") != crypto.seal(b"same")  # a fresh nonce every time
    tampered = bytearray(blob)
    tampered[-1] ^= 1
    with pytest.raises(StorageError, match="changed or damaged"):
        crypto.unseal(bytes(tampered))
    with pytest.raises(StorageError, match="not a file encrypted by gum"):
        crypto.unseal(b"plain bytes")
    assert [p.name for p in target.parent.iterdir()] == ["a.png.enc"]  # no temporary left behind


def _plaintext_db(path):
    """A database as the version before encryption made it: plain sqlite3, same schema, same store code."""
    from gum.migrations import migrations

    conn = sqlite3.connect(str(path), check_same_thread=False)
    conn.isolation_level = None
    conn.execute("PRAGMA journal_mode = WAL")
    db = Database(conn)
    migrations.apply(db)
    return db


def test_a_plaintext_database_is_encrypted_in_place_and_loses_nothing(gum_dirs):
    gum_dirs.mkdir(parents=True)
    path = db_path()
    plain = _plaintext_db(path)
    store = Store(db=plain)
    _seed(store, n_obs=200, n_props=40)
    store.revoke(3)
    store.edit(5, text=f"The user bakes {MARKER} tarts on Sundays")
    counts_before = _table_counts(plain.conn)
    fts_before = _fts_results(plain.conn)
    search_before = [(p.id, p.text) for p, _ in store.search("pies", limit=50)]
    plain.conn.close()
    assert path.read_bytes()[:16] == SQLITE_HEADER
    assert _files_containing(gum_dirs, MARKER_STEM)  # the old version left it readable

    db = open_db()
    assert path.read_bytes()[:16] != SQLITE_HEADER
    assert _table_counts(db.conn) == counts_before
    assert _fts_results(db.conn) == fts_before
    assert counts_before["observations"] == 200 and fts_before["p:" + MARKER]
    after = Store(db=db)
    assert [(p.id, p.text) for p, _ in after.search("pies", limit=50)] == search_before
    after.add_by_hand("still writable after the swap")
    db.conn.close()
    leftovers = {p.name for p in gum_dirs.iterdir()} - {"gum.db", "gum.db-wal", "gum.db-shm", "gum.db.lock"}
    assert leftovers == set()
    assert _files_containing(gum_dirs, MARKER_STEM) == []
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_migration_interrupted_before_the_swap_is_redone_and_after_it_is_tidied(gum_dirs):
    gum_dirs.mkdir(parents=True)
    path = db_path()
    plain = _plaintext_db(path)
    _seed(Store(db=plain), n_obs=5, n_props=2)
    plain.conn.close()
    # Crash after the backup was made, before the swap: half-made copy and backup beside the plaintext.
    shutil.copyfile(path, path.with_name(path.name + PLAINTEXT_BACKUP_SUFFIX))
    path.with_name(path.name + ENCRYPTING_SUFFIX).write_bytes(b"half a database")
    assert Store().counts()["observations"] == 5
    assert not path.with_name(path.name + PLAINTEXT_BACKUP_SUFFIX).exists()
    assert not path.with_name(path.name + ENCRYPTING_SUFFIX).exists()
    # Crash after the swap, before the backup was removed: the plaintext backup must not survive.
    backup = path.with_name(path.name + PLAINTEXT_BACKUP_SUFFIX)
    backup.write_bytes(SQLITE_HEADER + f"old rows {MARKER}".encode())
    assert Store().counts()["observations"] == 5
    assert not backup.exists()
    assert _files_containing(gum_dirs, MARKER_STEM) == []


def test_gum_backup_writes_an_encrypted_copy_that_opens_with_the_same_key(tmp_path):
    store = Store()
    _seed(store, n_obs=12, n_props=3)
    store.close()
    out = tmp_path / "backups" / "gum-copy.db"
    out.parent.mkdir()
    result = CliRunner().invoke(main, ["backup", str(out)])
    assert result.exit_code == 0, result.output
    assert "encrypted" in result.output and "keep a copy of the key" in result.output
    assert out.read_bytes()[:16] != SQLITE_HEADER
    assert _files_containing(out.parent, MARKER_STEM) == []
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    restored = Store(db=open_db(out))
    assert restored.counts()["observations"] == 12
    assert len(restored.search(MARKER)) == 3
    again = CliRunner().invoke(main, ["backup", str(out)])
    assert again.exit_code == 1 and "already exists" in again.output


def test_export_still_writes_plain_json_with_a_warning(tmp_path):
    Store().add_by_hand(f"Likes {MARKER}")
    out = tmp_path / "export.json"
    result = CliRunner().invoke(main, ["export", "-o", str(out)])
    assert result.exit_code == 0
    assert "not encrypted" in result.output
    assert MARKER in out.read_text()
