"""The agent's clock: APScheduler (3.x, BackgroundScheduler) runs the periodic jobs; a wake-gap check notices sleep.

Jobs coalesce and never misfire away: after a laptop sleeps, each missed job runs once on wake instead of
being skipped or run many times. Like vorta, sleep is detected by the wall clock jumping further than the
check's own period (`WakeWatch`), so the agent can catch up at once (look at the screen again, process what
is queued, clean up).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger("gum.scheduler")


class WakeWatch:
    """Reports the length of a sleep: a wall-clock jump beyond the expected period plus a tolerance."""

    def __init__(self, period: float, tolerance: float = 30.0, clock: Callable[[], float] = time.time):
        self.period = period
        self.tolerance = tolerance
        self.clock = clock
        self.last = clock()

    def check(self) -> float | None:
        """Seconds the machine was away since the previous check, or None if it was not."""
        now = self.clock()
        gap = now - self.last
        self.last = now
        if gap > self.period + self.tolerance:
            return gap - self.period
        return None


class Scheduler:
    """A BackgroundScheduler whose jobs log their errors instead of dying silently."""

    def __init__(self, on_error: Callable[[str, BaseException], None] | None = None):
        from apscheduler.schedulers.background import BackgroundScheduler

        self.on_error = on_error
        self._s = BackgroundScheduler(
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            executors={"default": {"type": "threadpool", "max_workers": 4}},
            timezone="UTC",
        )

    def every(self, seconds: float, fn: Callable[[], object], name: str, *, first_in: float | None = None) -> None:
        """Run `fn` every `seconds` (first after `first_in` seconds, default one period)."""
        from datetime import datetime, timedelta, timezone

        def job():
            try:
                fn()
            except Exception as exc:
                log.exception("job %s failed", name)
                if self.on_error:
                    self.on_error(name, exc)

        start = datetime.now(timezone.utc) + timedelta(seconds=seconds if first_in is None else first_in)
        self._s.add_job(job, "interval", seconds=seconds, id=name, name=name, next_run_time=start,
                        replace_existing=True)

    def jobs(self) -> dict[str, str | None]:
        """Each job's next run time (ISO), for status."""
        return {j.id: (j.next_run_time.isoformat() if j.next_run_time else None) for j in self._s.get_jobs()}

    def start(self) -> None:
        self._s.start()

    def shutdown(self) -> None:
        if self._s.running:
            self._s.shutdown(wait=True)
