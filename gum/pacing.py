"""The model's budget while the user is at the computer: its calls paced evenly through the hour.

A cap of N calls in any rolling hour lets all N happen in the first minutes of work (the fans spin up just
as the user starts) and then none for the rest of the hour. A token bucket spends the same N evenly: it holds
at most `burst` calls and earns N an hour back, so any stretch of t seconds at the computer costs at most
burst + N * t / 3600 calls. Calls made while the user is idle or away cost nothing: that is when the backlog is
meant to drain, on all cores.

The same bucket, counted in CPU-seconds, holds the model's CPU while the user is active to its own budget:
a call starts only once the CPU it is expected to take (the last active calls' mean) has been earned, so
calls that cost more come less often.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Pace:
    """Calls the model may make now while the user is active; `per_hour` 0 means no limit."""

    def __init__(self, per_hour: float, *, burst: float = 1.0, start: float | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.per_hour = per_hour
        self.burst = burst
        self._clock = clock
        self._tokens = burst if start is None else start
        self._at = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.per_hour / 3600)
        self._at = now

    def allows(self, need: float = 1.0) -> bool:
        """Whether a call costing `need` may start now (that much already earned; at most `burst`)."""
        if not self.per_hour:
            return True
        self._refill()
        return self._tokens >= min(need, self.burst)

    def spend(self, calls: float, *, active: bool) -> None:
        """Count what calls just cost (calls, or CPU-seconds). One observation read in several pieces may
        overdraw the bucket: the debt is earned back before the next call, so the hourly rate holds."""
        if self.per_hour and active and calls:
            self._refill()
            self._tokens -= calls

    def wait_seconds(self, need: float = 1.0) -> float:
        """Seconds until a call costing `need` is earned (0 if one may start now)."""
        if self.allows(need):
            return 0.0
        return (min(need, self.burst) - self._tokens) * 3600 / self.per_hour
