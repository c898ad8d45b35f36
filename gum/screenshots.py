"""Kept screenshots (only when the user turns `keep_screenshots` on): encrypted, within a byte budget and an age.

Each screenshot is a PNG (lossless, so it can be read again) sealed with gum.crypto before it touches the
disk. `clean()` (run by the agent's scheduler) deletes files older than the age limit, then the oldest until
the folder fits the budget.
"""

from __future__ import annotations

import io
import secrets
import time
from pathlib import Path

from . import paths

SUFFIX = ".png.gumenc"


def screenshots_dir() -> Path:
    """Where kept screenshots live (inside the data dir)."""
    return paths.data_dir() / "screenshots"


class ScreenshotKeeper:
    """Writes screenshots encrypted and keeps their folder within `budget_bytes` and `max_age_days`."""

    def __init__(self, folder: Path | None = None, *, budget_bytes: int = 500 * 2**20, max_age_days: float = 7):
        self.folder = Path(folder) if folder else screenshots_dir()
        self.budget_bytes = budget_bytes
        self.max_age_days = max_age_days
        self.written = 0
        self.bytes_written = 0

    def save(self, image) -> str | None:
        """Encrypt and write a PIL image; returns its path (None when the budget is zero)."""
        from .crypto import write_private

        if self.budget_bytes <= 0:
            return None
        buf = io.BytesIO()
        image.save(buf, format="PNG", compress_level=6)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        path = self.folder / time.strftime("%Y-%m-%d", time.gmtime()) / f"{stamp}-{secrets.token_hex(3)}{SUFFIX}"
        write_private(path, buf.getvalue())
        self.written += 1
        self.bytes_written += path.stat().st_size
        return str(path)

    @staticmethod
    def read(path: str | Path):
        """Decrypt a kept screenshot into a PIL image (in memory only)."""
        from PIL import Image

        from .crypto import read_private

        return Image.open(io.BytesIO(read_private(path)))

    def files(self) -> list[tuple[float, int, Path]]:
        """(mtime, size, path) of every kept screenshot, oldest first."""
        out = []
        for p in self.folder.rglob(f"*{SUFFIX}") if self.folder.exists() else []:
            try:
                st = p.stat()
            except FileNotFoundError:
                continue
            out.append((st.st_mtime, st.st_size, p))
        return sorted(out)

    def clean(self, now: float | None = None) -> dict:
        """Delete what is too old, then the oldest until within budget; returns what was removed."""
        now = time.time() if now is None else now
        files = self.files()
        removed, freed = 0, 0
        keep = []
        for mtime, size, p in files:
            if now - mtime > self.max_age_days * 86400:
                p.unlink(missing_ok=True)
                removed, freed = removed + 1, freed + size
            else:
                keep.append((mtime, size, p))
        total = sum(size for _, size, _ in keep)
        for _mtime, size, p in keep:
            if total <= self.budget_bytes:
                break
            p.unlink(missing_ok=True)
            total -= size
            removed, freed = removed + 1, freed + size
        for d in sorted(self.folder.glob("*"), reverse=True) if self.folder.exists() else []:
            if d.is_dir() and not any(d.iterdir()):
                d.rmdir()
        return {"removed": removed, "freed_bytes": freed, "kept_bytes": total}
