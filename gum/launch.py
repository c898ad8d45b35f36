"""How gum starts itself again as a new process (the tray's agent, the login entry, the systemd unit).

From a source or pip install that is this Python with `-m gum.cli`; in the PyInstaller build (`sys.frozen`)
the bundle's own executable is the `gum` command, and `-m` means nothing to it.
"""

from __future__ import annotations

import sys
from pathlib import Path


def is_frozen() -> bool:
    """True inside the PyInstaller build."""
    return bool(getattr(sys, "frozen", False))


def gum_command(*args: str) -> list[str]:
    """The argv that runs `gum ARGS...` with this very installation."""
    if is_frozen():
        return [sys.executable, *args]
    return [sys.executable, "-m", "gum.cli", *args]


def bundle_dir() -> Path | None:
    """The folder the PyInstaller build unpacked its files into (None outside the build)."""
    base = getattr(sys, "_MEIPASS", None)
    return Path(base) if is_frozen() and base else None
