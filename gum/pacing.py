"""The model's budget while the user is at the computer: its calls paced evenly through the hour.

A cap of N calls in any rolling hour lets all N happen in the first minutes of work (the fans spin up just
as the user starts) and then none for the rest of the hour. A token bucket spends the same N evenly: it holds
at most `burst` calls and earns N an hour back, so any stretch of t seconds at the computer costs at most
burst + N * t / 3600 calls. Calls made while the user is idle or away cost nothing: that is when the backlog is
meant to drain, on all cores.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Pace:
    """Calls the model may make now while the user is active; `per_hour` 0 means no limit."""

    def __init__(self, per_hour: int, *, burst: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self.per_hour = per_hour
        self.burst = burst
        self._clock = clock
        self._tokens = burst
        self._at = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.per_hour / 3600)
        self._at = now

    def allows(self) -> bool:
        """Whether a call may start now (a call already earned)."""
        if not self.per_hour:
            return True
        self._refill()
        return self._tokens >= 1

    def spend(self, calls: int, *, active: bool) -> None:
        """Count calls just made. One observation read in several pieces may overdraw the bucket: the debt is
        earned back before the next call, so the hourly rate holds."""
        if self.per_hour and active and calls:
            self._refill()
            self._tokens -= calls

    def wait_seconds(self) -> float:
        """Seconds until the next call is earned (0 if one may start now)."""
        if self.allows():
            return 0.0
        return (1 - self._tokens) * 3600 / self.per_hour
