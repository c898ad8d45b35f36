"""Where gum keeps things. One function per place, each overridable by one environment variable."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

APP_NAME = "gum"


def data_dir() -> Path:
    """The folder holding the database (and kept screenshots): GUM_DATA_DIR or the platform's user data dir."""
    env = os.environ.get("GUM_DATA_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def config_dir() -> Path:
    """The folder holding config.toml: GUM_CONFIG_DIR or the platform's user config dir."""
    env = os.environ.get("GUM_CONFIG_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    """The folder for things gum can rebuild (the assembled model): GUM_CACHE_DIR or the user cache dir."""
    env = os.environ.get("GUM_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and parents) readable by the user only."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.chmod(path, 0o700)
    except OSError:  # a folder the user pointed us at that we do not own: leave it as it is
        pass
    return path


@contextmanager
def file_lock(lock_path: Path):
    """Hold an exclusive lock on `lock_path` (created 0600) across processes. Where flock does not exist
    (Windows), it only yields: callers keep themselves safe by atomic renames."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    ensure_private_dir(lock_path.parent)
    fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def api_socket(port: int) -> Path | None:
    """The agent's private API socket for `port`: `$XDG_RUNTIME_DIR/gum/api-PORT.sock`, in a 0700 folder that
    is the user's own (a socket file there can only be the user's agent). None where there is no safe
    folder (no XDG_RUNTIME_DIR, or one that is not private) or no Unix sockets: clients then use loopback TCP."""
    if os.name != "posix":
        return None
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if not runtime:
        return None
    base = Path(runtime)
    try:
        st = base.stat()
    except OSError:
        return None
    if st.st_uid != os.getuid() or st.st_mode & 0o077:
        return None
    folder = base / APP_NAME
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        st = folder.lstat()
    except OSError:
        return None
    import stat as _stat

    if not _stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        return None
    if st.st_mode & 0o077:
        os.chmod(folder, 0o700)
    path = folder / f"api-{int(port)}.sock"
    return path if len(str(path)) < 100 else None  # AF_UNIX paths are limited to ~108 bytes
