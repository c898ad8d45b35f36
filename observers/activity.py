"""What the observers share: when the user last typed, clicked or scrolled, how often, and which window is active.

The input observer records events here (only their kind and time, never which key); the window observer
records window switches; the screen observer reads both to decide when to capture (a click, a pause in
typing, the end of a scroll, a switch), and every screen or window observation takes the input counts
since its previous one as its engagement evidence.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

KINDS = ("keys", "clicks", "scrolls", "moves")
BURST_GAP = 2.0  # seconds without input that end a burst


@dataclass
class WindowInfo:
    """A window on screen: app name, title, where it is (x, y, width, height in desktop pixels), and the id of
    the process that owns it when the desktop says (gum's own windows are excluded by process)."""

    app: str = ""
    title: str = ""
    rect: tuple[int, int, int, int] | None = None
    wid: int | None = None
    pid: int | None = None


class Activity:
    """Thread-safe record of input timing and counts and the active window; cheap enough for every event."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._lock = threading.Lock()
        self.total: Counter = Counter()
        self.last: dict[str, float] = {}
        self.last_input: float | None = None
        self.bursts = 0
        self.active_seconds = 0.0
        self._taken: dict[str, Counter] = {}
        self.window: WindowInfo | None = None
        self.window_excluded = False
        self.window_changed_at: float | None = None
        self.afk_after = 180.0

    def record(self, kind: str) -> None:
        """Count one input event of a kind in KINDS (the input observer calls this; never with the key)."""
        now = self.clock()
        with self._lock:
            self.total[kind] += 1
            self.last[kind] = now
            if self.last_input is None or now - self.last_input > BURST_GAP:
                self.bursts += 1
            else:
                self.active_seconds += now - self.last_input
            self.last_input = now

    def take(self, consumer: str) -> dict:
        """Counts since this consumer's previous take (keys, clicks, scrolls, moves)."""
        with self._lock:
            before = self._taken.get(consumer, Counter())
            self._taken[consumer] = Counter(self.total)
            return {k: self.total[k] - before[k] for k in KINDS}

    def since(self, kind: str) -> float | None:
        """When an event of this kind last happened (clock seconds), or None."""
        return self.last.get(kind)

    def idle_seconds(self) -> float | None:
        """Seconds since the last input event; None when no input has been seen (no input observer)."""
        last = self.last_input
        return None if last is None else self.clock() - last

    def afk(self) -> bool:
        """True when the user has been away from keyboard and mouse for `afk_after` seconds."""
        idle = self.idle_seconds()
        return idle is not None and idle >= self.afk_after

    def set_window(self, info: WindowInfo | None, *, excluded: bool = False) -> bool:
        """Record the active window; True (and a switch time the screen reacts to) if it changed."""
        with self._lock:
            old = self.window
            changed = (old is None) != (info is None) or (
                old is not None and info is not None and (old.app, old.title, old.wid) != (info.app, info.title, info.wid)
            )
            self.window = info
            self.window_excluded = excluded
            if changed:
                self.window_changed_at = self.clock()
            return changed
