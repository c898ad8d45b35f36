"""Where gum keeps things. One function per place, each overridable by one environment variable."""

from __future__ import annotations

import os
import stat
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


# Where the login manager makes the user's runtime folder. A program started with a pared-down environment (an
# MCP client starts `gum mcp` with only HOME, PATH, USER and a few more) must find the agent's socket all the
# same, so without XDG_RUNTIME_DIR the usual place is looked at.
LOGIN_RUNTIME_DIR = "/run/user/{uid}"
# For a cache folder too deep for a socket path: short, and the same for every process of the user.
SHORT_RUN_DIR = "/tmp/gum-{uid}"


def api_socket(port: int) -> Path | None:
    """The agent's private API socket for `port`, `api-PORT.sock` in a 0700 folder of the user's own (a
    socket file there can only be the user's agent): `$XDG_RUNTIME_DIR/gum/` when that runtime folder is
    private, else gum's own `<cache folder>/run/`, else (when that path is too long for a socket)
    `/tmp/gum-UID/`. The agent serves there and clients send their token only there. None, and loopback TCP,
    only on Windows, with GUM_API_SOCKET=off, or when none of these folders is safe."""
    if os.name != "posix" or os.environ.get("GUM_API_SOCKET", "").strip().lower() == "off":
        return None
    uid = os.getuid()
    runtime = Path(os.environ.get("XDG_RUNTIME_DIR") or LOGIN_RUNTIME_DIR.format(uid=uid))
    try:
        st = runtime.stat()
        folders = [runtime / APP_NAME] if st.st_uid == uid and not st.st_mode & 0o077 else []
    except OSError:
        folders = []
    cache = cache_dir()
    folders += [cache / "run", Path(SHORT_RUN_DIR.format(uid=uid))]
    for folder in folders:
        path = folder / f"api-{int(port)}.sock"
        if len(str(path)) >= 100:  # AF_UNIX paths are limited to ~108 bytes (104 on macOS)
            continue
        if folder.parent == cache:
            try:
                ensure_private_dir(cache)  # 0700, as everywhere gum uses it: nobody else may swap `run`
            except OSError:
                continue
        if _private_folder(folder):
            return path
    return None


def _private_folder(folder: Path) -> bool:
    """Make `folder` (0700) if it is missing. True if it is then a real directory (not a symlink) of the
    user's own that nobody else can enter or swap: a looser mode is fixed, a folder of someone else's (made
    first by another user in /tmp, say) or a link to one is never used."""
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        st = folder.lstat()
        parent = folder.parent.stat()
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        return False
    # In a parent others may write to, only the sticky bit (/tmp) stops them renaming ours away.
    if parent.st_mode & 0o022 and not parent.st_mode & stat.S_ISVTX:
        return False
    if st.st_mode & 0o077:
        try:
            os.chmod(folder, 0o700)
        except OSError:
            return False
    return True
