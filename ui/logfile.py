"""The tray's own log file (tray.log in the cache folder): private, rotated, and never observation text.

The agent's output is forwarded into it (the crash dialog shows its last lines), so each line is scrubbed
first: secrets are redacted, and what follows a quote or "text=" is cut, since that is where an excerpt of a
model answer or of screen text would sit. `remove()` is what "Delete everything" calls.
"""

from __future__ import annotations

import logging
import os
import re
from logging.handlers import RotatingFileHandler
from pathlib import Path

MAX_BYTES = 1_000_000
BACKUPS = 2
# An excerpt starts at a quote, or after text= / "text": / reasoning= ...; everything after it is dropped.
_EXCERPT = re.compile(r"""(?i)(['"“‘`]|\b(?:text|reasoning|title|window|query|q)\s*[=:]\s*)""")
_TRACEBACK_LINE = re.compile(r'^\s*File "[^"]+", line \d+(?:, in \w+)?$')


def log_path() -> Path:
    from gum.paths import cache_dir, ensure_private_dir

    return ensure_private_dir(cache_dir()) / "tray.log"


def scrub(message: str) -> str:
    """`message` without secrets and without anything that may be an excerpt of what gum read."""
    from gum.privacy import redact

    if _TRACEBACK_LINE.match(message):
        return message
    m = _EXCERPT.search(message)
    if m is not None:
        message = message[: m.start()] + "[…]"
    return redact(message)


class PrivateRotatingFileHandler(RotatingFileHandler):
    """A RotatingFileHandler whose files (the live one and every rotated one) are created 0600."""

    def _open(self):
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.chmod(self.baseFilename, 0o600)  # an older file from before this handler
        return os.fdopen(fd, self.mode, encoding=self.encoding, errors=self.errors)

    def format(self, record: logging.LogRecord) -> str:
        from gum.privacy import redact

        if record.name == "gum.ui.agent":  # a line the agent wrote: may quote what it read or the model said
            stamp = logging.Formatter("%(asctime)s %(name)s %(levelname)s ").format(record)
            return stamp + scrub(record.getMessage())
        return redact(super().format(record))


def handler() -> PrivateRotatingFileHandler:
    """The file handler for tray.log."""
    h = PrivateRotatingFileHandler(log_path(), maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
    h.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    return h


def remove() -> None:
    """Delete tray.log and its rotated copies (closing the handler that writes them first)."""
    path = log_path()
    root = logging.getLogger()
    for h in list(root.handlers):
        if isinstance(h, PrivateRotatingFileHandler) and Path(h.baseFilename) == path:
            h.close()
    for p in [path, *[path.with_name(f"{path.name}.{n}") for n in range(1, BACKUPS + 1)]]:
        p.unlink(missing_ok=True)
