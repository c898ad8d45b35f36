"""A small JSON file an observer keeps between runs: what it has already read, so a restart repeats nothing.

It holds bookkeeping only (hashes of event ids, the last visit id read from a history file), never what was
observed: the observations themselves live in the encrypted database.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from gum import paths


def digest(*parts: object) -> str:
    """A short stable hash of the parts, so the state file never holds a title, a URL or an event id."""
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:24]


class ObserverState:
    """A dict saved as data_dir()/observers/<name>.json (0600), written atomically."""

    def __init__(self, name: str, path: Path | None = None):
        self.path = path or paths.data_dir() / "observers" / f"{name}.json"
        self.data: dict = {}
        try:
            self.data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.data = {}  # first run, or a damaged file: start over (the worst case is a repeat)

    def save(self) -> None:
        paths.ensure_private_dir(self.path.parent)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(self.data, f)
        os.replace(tmp, self.path)
