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
