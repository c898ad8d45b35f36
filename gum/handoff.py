"""How an API token gets from one process to another: through a pipe or a 0600 file, never the environment
or the command line.

Any process of the same user can read another's /proc/PID/environ, and every local user can read
/proc/PID/cmdline; `os.environ.pop` does not scrub the copy the kernel keeps. So the tray hands the agent its
token on the agent's stdin (GUM_TRAY_TOKEN_FD names the descriptor, not the secret), and `gum mcp` and
`gum ui --no-agent` read theirs from a file only the user can read (`gum token create NAME --file PATH`).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import GumError

FD_VAR = "GUM_TRAY_TOKEN_FD"
FILE_VAR = "GUM_TRAY_TOKEN_FILE"


class HandoffError(GumError):
    """A token could not be read safely (a file others can read, an empty pipe)."""


def read_fd(fd: int) -> str:
    """One line from descriptor `fd` (a pipe the parent wrote the token into), which is then closed."""
    chunks = []
    try:
        while True:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            chunks.append(chunk)
            if b"\n" in chunk:
                break
    finally:
        try:
            os.close(fd)
        except OSError:
            pass
    token = b"".join(chunks).split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    if not token:
        raise HandoffError(f"no token on file descriptor {fd}")
    return token


def read_file(path: str | Path, *, remove: bool = False) -> str:
    """The token in `path`; refused unless the file is the user's own and readable by nobody else."""
    path = Path(path).expanduser()
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise HandoffError(f"cannot read the token file {path}: {exc.strerror}") from exc
    try:
        st = os.fstat(fd)
        if os.name == "posix" and (st.st_uid != os.getuid() or st.st_mode & (stat.S_IRWXG | stat.S_IRWXO)):
            raise HandoffError(f"the token file {path} must be yours and private: chmod 600 {path}")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            token = fh.read(4096).decode("utf-8", "replace").strip()
    finally:
        os.close(fd)
    if remove:
        path.unlink(missing_ok=True)
    if not token:
        raise HandoffError(f"the token file {path} is empty")
    return token


def write_file(path: str | Path, token: str) -> Path:
    """Write `token` to a new file only the user can read (refuses to overwrite one)."""
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError as exc:
        raise HandoffError(f"{path} already exists: remove it first or pick another path") from exc
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
    return path


def tray_token() -> str | None:
    """The token the tray handed this agent (a pipe, or a 0600 file that is deleted once read), or None."""
    fd = os.environ.pop(FD_VAR, None)
    if fd is not None and fd.isdigit():
        return read_fd(int(fd))
    path = os.environ.pop(FILE_VAR, None)
    if path:
        return read_file(path, remove=True)
    return None
