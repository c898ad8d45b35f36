"""AES-GCM for every file gum writes that holds user content (kept screenshots, exports to keep, backups' sidecars).

A sealed blob is MAGIC + 12-byte random nonce + ciphertext with its 16-byte tag. The key is derived (HKDF)
from the master secret in gum.keys, so the same keyring entry / key file / passphrase protects files and
database alike. Decrypt in memory only: nothing here writes plaintext to disk.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from . import keys, paths
from .errors import StorageError

MAGIC = b"GUMENC1\x00"
NONCE_BYTES = 12


def _aead():
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(keys.derive(keys.master_key(), "files"))


def seal(data: bytes) -> bytes:
    """Encrypt and authenticate `data` under gum's file key."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    return MAGIC + nonce + _aead().encrypt(nonce, bytes(data), MAGIC)


def is_sealed(blob: bytes) -> bool:
    """True if `blob` looks like the output of seal()."""
    return blob[: len(MAGIC)] == MAGIC


def unseal(blob: bytes) -> bytes:
    """Decrypt a blob from seal(); a wrong key or a changed byte raises StorageError, never returns garbage."""
    from cryptography.exceptions import InvalidTag

    if not is_sealed(blob) or len(blob) < len(MAGIC) + NONCE_BYTES + 16:
        raise StorageError("not a file encrypted by gum (or it is truncated)")
    nonce = blob[len(MAGIC) : len(MAGIC) + NONCE_BYTES]
    try:
        return _aead().decrypt(nonce, blob[len(MAGIC) + NONCE_BYTES :], MAGIC)
    except InvalidTag:
        raise StorageError(
            "cannot decrypt: the file was encrypted with a different key, or it has been changed or damaged"
        ) from None


def write_private(path: Path | str, data: bytes) -> Path:
    """Write `data` encrypted to `path`, mode 0600, atomically (a crash leaves the old file or the new one)."""
    path = Path(path)
    paths.ensure_private_dir(path.parent)
    blob = seal(data)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def read_private(path: Path | str) -> bytes:
    """Read and decrypt a file written by write_private()."""
    path = Path(path)
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise StorageError(f"cannot read {path}: {exc}") from exc
    try:
        return unseal(blob)
    except StorageError as exc:
        raise StorageError(f"{path}: {exc}") from None
