"""The secret behind everything gum encrypts: where it lives (keyring, key file, passphrase) and how it is made.

One 256-bit master secret per user. The database key and the file key are derived from it with HKDF, so a
leak of one derived key says nothing about the other. The secret is random and created on first run, kept in
the OS keyring; where no keyring works (a headless box, CI) it goes to a 0600 key file outside the data
folder. In passphrase mode the secret is derived (scrypt) from what the user types at start and never stored.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from . import paths
from .errors import ConfigError, StorageError

KEY_BYTES = 32
KEYRING_SERVICE = "gum"
KEYRING_USER = "master-key"
KEY_FILE_NAME = "master.key"
SALT_FILE_NAME = "passphrase.salt"
# scrypt at n=2**15, r=8 costs ~32 MiB and ~0.1 s: paid once per process, cached after.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
STORES = ("auto", "keyring", "file", "passphrase")

_lock = threading.Lock()
_cache: dict[tuple, bytes] = {}
_passphrase: str | None = None


@dataclass(frozen=True)
class Protection:
    """Which protection is in force, in words `gum status` can print."""

    store: str  # "keyring", "file", "passphrase", or "missing" (no usable key: the note says why)
    where: str  # the keyring backend, the key file path, or the salt file path
    note: str = ""  # why the keyring was not used, or a warning

    def describe(self) -> str:
        """One plain sentence for `gum status`."""
        if self.store == "keyring":
            text = f"encrypted (SQLCipher + AES-GCM); key in the OS keyring ({self.where})"
        elif self.store == "missing":
            return f"encrypted, but the key is not available: {self.note}"
        elif self.store == "file":
            text = f"encrypted (SQLCipher + AES-GCM); key in the file {self.where} (mode 0600)"
        else:
            text = "encrypted (SQLCipher + AES-GCM); key derived from your passphrase, stored nowhere"
        return f"{text}. {self.note}".strip() if self.note else text


def set_passphrase(passphrase: str) -> None:
    """Give gum the passphrase (the tray or `gum start` asks the user once); used in passphrase mode."""
    global _passphrase
    if not passphrase:
        raise ConfigError("the passphrase is empty")
    _passphrase = passphrase


def forget_cached_keys() -> None:
    """Drop derived keys and the passphrase held in memory (tests, and after a passphrase change)."""
    global _passphrase
    with _lock:
        _cache.clear()
        _passphrase = None


def _settings():
    from .config import load_settings

    return load_settings()


def configured_store() -> str:
    """The key store asked for: GUM_KEY_STORE or the `key_store` setting (auto, keyring, file, passphrase)."""
    store = os.environ.get("GUM_KEY_STORE") or _settings().key_store
    if store not in STORES:
        raise ConfigError(f"key_store must be one of {', '.join(STORES)}, not {store!r}")
    return store


def key_file_path() -> Path:
    """The fallback key file: GUM_KEY_FILE, the `key_file` setting, or master.key in the config folder.

    The config folder, not the data folder: someone who copies the data folder does not get the key with it.
    """
    env = os.environ.get("GUM_KEY_FILE") or _settings().key_file
    return Path(env).expanduser() if env else paths.config_dir() / KEY_FILE_NAME


def _keyring_problem() -> tuple[object | None, str]:
    """The usable keyring backend, or None and the reason there is none."""
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        return None, "the keyring package is not installed"
    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # noqa: BLE001 - a broken keyring config must not stop gum: fall back
        return None, f"the keyring could not be loaded ({exc})"
    names = {type(backend).__module__ + "." + type(backend).__name__}
    if isinstance(backend, fail.Keyring) or "keyring.backends.null.Keyring" in names:
        return None, "no OS keyring is available on this machine"
    try:
        priority = float(getattr(backend, "priority", 1))
    except Exception:  # noqa: BLE001 - a backend says it is not viable by raising from priority
        priority = 0
    if priority <= 0 and not hasattr(backend, "backends"):
        return None, f"the keyring backend {type(backend).__name__} is not usable"
    if hasattr(backend, "backends") and not backend.backends:  # ChainerBackend with nothing in it
        return None, "no OS keyring is available on this machine"
    return backend, ""


def usable_keyring() -> tuple[object | None, str]:
    """The OS keyring backend gum would use, or None and the reason there is none (for `gum doctor`)."""
    return _keyring_problem()


def _backend_name(backend) -> str:
    return f"{type(backend).__module__}.{type(backend).__name__}"


def _read_key_file(path: Path) -> bytes | None:
    try:
        raw = path.read_text().strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StorageError(f"cannot read the key file {path}: {exc}") from exc
    return _decode_key(raw, f"the key file {path} is damaged (expected {KEY_BYTES * 2} hex digits)")


def _decode_key(text: str, damaged: str) -> bytes:
    """A stored key from its hex text; StorageError(`damaged`) if it is not exactly KEY_BYTES."""
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise StorageError(damaged)
    return key


def _write_key_file(path: Path, key: bytes) -> None:
    paths.ensure_private_dir(path.parent)
    # O_EXCL: two processes starting at once must not each write a different key.
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key.hex() + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _from_file(path: Path, create: bool) -> bytes:
    key = _read_key_file(path)
    if key is not None:
        return key
    if not create:
        raise StorageError(
            f"the encryption key is missing: no key file at {path}. Restore it (or the keyring entry) "
            "from where you saved it; without it the database cannot be read"
        )
    try:
        _write_key_file(path, secrets.token_bytes(KEY_BYTES))
    except FileExistsError:
        pass  # another process won the race: use its key
    except OSError as exc:
        raise StorageError(f"cannot create the key file {path}: {exc}") from exc
    key = _read_key_file(path)
    assert key is not None
    return key


def _from_keyring(backend, create: bool) -> bytes:
    try:
        stored = backend.get_password(KEYRING_SERVICE, KEYRING_USER)
    except Exception as exc:  # a Secret Service that is not running, a locked Keychain
        raise _KeyringUnusable(str(exc) or type(exc).__name__) from exc
    if stored:
        return _decode_key(stored, f"the keyring entry {KEYRING_SERVICE}/{KEYRING_USER} is damaged")
    if not create:
        raise StorageError(
            f"the encryption key is missing from the keyring ({KEYRING_SERVICE}/{KEYRING_USER}); "
            "without it the database cannot be read"
        )
    with _creation_lock():
        # The tray and the agent may start together: the one that gets here second must use the first's key.
        try:
            stored = backend.get_password(KEYRING_SERVICE, KEYRING_USER)
            if stored:
                return bytes.fromhex(stored)
            key = secrets.token_bytes(KEY_BYTES)
            backend.set_password(KEYRING_SERVICE, KEYRING_USER, key.hex())
        except Exception as exc:
            raise _KeyringUnusable(str(exc) or type(exc).__name__) from exc
    return key


def _creation_lock():
    """Serialise key creation across processes (a lock file beside the key file)."""
    return paths.file_lock(key_file_path().with_name("master.key.lock"))


class _KeyringUnusable(Exception):
    """The keyring backend exists but failed when used."""


def salt_path() -> Path:
    """Where passphrase mode keeps its (not secret) salt: beside the fallback key file."""
    return key_file_path().with_name(SALT_FILE_NAME)


def _passphrase_now() -> str:
    if _passphrase:
        return _passphrase
    env = os.environ.get("GUM_PASSPHRASE")
    if env:
        return env
    if sys.stdin is not None and sys.stdin.isatty():
        import getpass

        typed = getpass.getpass("gum passphrase: ")
        if typed:
            set_passphrase(typed)
            return typed
    raise StorageError(
        "gum is in passphrase mode but has no passphrase: run it from a terminal, or set GUM_PASSPHRASE"
    )


def _from_passphrase(create: bool) -> bytes:
    path = salt_path()
    try:
        salt = bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        if not create:
            raise StorageError(f"passphrase mode: the salt file {path} is missing") from None
        paths.ensure_private_dir(path.parent)
        salt = secrets.token_bytes(16)
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(salt.hex() + "\n")
        except FileExistsError:
            salt = bytes.fromhex(path.read_text().strip())
    phrase = _passphrase_now()
    cache_key = ("passphrase", salt, hashlib.sha256(phrase.encode()).digest())
    if cache_key not in _cache:
        _cache[cache_key] = hashlib.scrypt(
            phrase.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=64 * 2**20, dklen=KEY_BYTES
        )
    return _cache[cache_key]


def _encrypted_db_exists() -> bool:
    """An encrypted database is already in the data folder (so a missing key must not be replaced)."""
    path = paths.data_dir() / "gum.db"
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError:
        return False
    return len(head) == 16 and head != b"SQLite format 3\x00"


def _resolve(create: bool) -> tuple[bytes, Protection]:
    store = configured_store()
    # A fresh key over an existing encrypted database would only turn "key missing" into "wrong key".
    create = create and not _encrypted_db_exists()
    if store == "passphrase":
        return _from_passphrase(create), Protection("passphrase", str(salt_path()))
    note = ""
    if store in ("auto", "keyring"):
        backend, problem = _keyring_problem()
        if backend is not None:
            cache_key = ("keyring", _backend_name(backend), id(backend))
            if cache_key in _cache:
                return _cache[cache_key], Protection("keyring", _backend_name(backend))
            try:
                key = _from_keyring(backend, create)
            except _KeyringUnusable as exc:
                problem = f"the OS keyring failed ({exc})"
            else:
                _cache[cache_key] = key
                return key, Protection("keyring", _backend_name(backend))
        if store == "keyring":
            raise StorageError(f"key_store is 'keyring' but {problem}; set key_store = \"auto\" to allow a key file")
        note = f"Fallback: {problem}, so the key is in a file."
    path = key_file_path()
    data = paths.data_dir().resolve()
    if path.resolve().is_relative_to(data):
        note = (note + " Warning: the key file is inside the data folder, so a copy of the folder "
                "carries its key; move it (key_file setting).").strip()
    return _from_file(path, create), Protection("file", str(path), note)


def master_key(*, create: bool = True) -> bytes:
    """The 32-byte master secret, created on first use when `create` (never over an existing database)."""
    with _lock:
        return _resolve(create)[0]


def protection(*, create: bool = False) -> Protection:
    """Which protection is in force, without creating a key unless asked."""
    with _lock:
        try:
            return _resolve(create)[1]
        except StorageError as exc:
            return Protection("missing", "", str(exc))


def derive(master: bytes, purpose: str) -> bytes:
    """A 32-byte subkey of `master` for one purpose ("database", "files")."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=b"gum " + purpose.encode()).derive(
        master
    )
