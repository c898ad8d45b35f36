"""The Observer base class: everything a new observer (a calendar, a browser history reader) needs.

An observer is one file. Either run your own loop in `start()` (a thread) and stop it in `stop()`, or set
`interval` and implement `tick()`: the agent's scheduler then calls `tick()` every `interval` seconds.
Call `self.emit(Observation(...))` for what you see. Report failures with `self.fail("why")`; the agent
shows unhealthy observers in its status and restarts them (stop, then start) with a back-off.

    from gum.observers import Observer
    from gum.records import Observation

    class Calendar(Observer):
        name = "calendar"
        interval = 600  # seconds between ticks

        def tick(self):
            for event in read_today():
                self.emit(Observation(observer=self.name, app="Calendar", text=event.title))

Register it for `gum start` from a plugin module (gum/hookspecs.py; gum's own observers do the same in
gum/default_plugins/observers.py):

    @hookimpl
    def register_observers(register, settings):
        register("calendar", lambda context: Calendar())  # context.options: its [plugins.calendar] table

publish that module under the `gum` entry point group (`[project.entry-points.gum] calendar =
"my_package.calendar"`), and name it in the `observers` setting (`GUM_OBSERVERS=screen,input,window,calendar`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from gum.records import Observation

Emit = Callable[[Observation], object]


class Observer:
    """Watches one thing and calls `emit(Observation)` for what it sees.

    Set by the agent before `start()`: `self.emit`, `self.paused()` (True while the user paused observing:
    capture nothing) and `self.activity` (the shared gum.observers.activity.Activity: input timing and the
    active window, for observers that want to react to what the user does).
    """

    name: str = "observer"
    interval: float | None = None  # seconds between tick() calls by the agent; None: tick() is never called

    def __init__(self) -> None:
        from .activity import Activity

        self.emit: Emit = lambda obs: None
        self.paused: Callable[[], bool] = lambda: False
        self.activity = Activity()
        self.log = logging.getLogger(f"gum.observers.{self.name}")
        self._error: str | None = None
        self._last_ok: float | None = None
        self._detail = "starting"

    def attach(self, emit: Emit, *, paused: Callable[[], bool] | None = None, activity=None) -> None:
        """Connect to whoever runs the observer (the agent, or a test)."""
        self.emit = emit
        if paused is not None:
            self.paused = paused
        if activity is not None:
            self.activity = activity

    def start(self) -> None:
        """Begin observing; return quickly (run any loop in a thread)."""

    def stop(self) -> None:
        """Stop observing and release what start() acquired; return within a second or two."""

    def tick(self) -> None:
        """Called every `interval` seconds when `interval` is set."""

    # -- health: truthful, so the tray and the API can say what is wrong ----------------------------------

    def ok(self, detail: str = "") -> None:
        """Record that the observer just worked (captured, read, polled)."""
        self._error = None
        self._last_ok = time.monotonic()
        self._detail = detail

    def fail(self, detail: str) -> None:
        """Record that the observer cannot produce (display gone, permission lost, OCR failing)."""
        if detail != self._error:
            self.log.warning("%s: %s", self.name, detail)
        self._error = detail

    def expected_interval(self) -> float | None:
        """Seconds between successful ticks this observer is using now. An observer that backs off while
        nothing happens (the screen on a still desktop) returns its current, longer interval: being quiet on
        purpose is not a failure."""
        return self.interval

    def health(self) -> dict:
        """{'ok': bool, 'detail': str}: whether this observer is still producing, and why not."""
        if self._error:
            return {"ok": False, "detail": self._error}
        interval = self.expected_interval()
        if interval and self._last_ok is not None and not self.paused():
            silent = time.monotonic() - self._last_ok
            if silent > max(3 * interval, 30):
                return {"ok": False, "detail": f"no successful tick for {silent:.0f} s (expected every {interval:.0f} s)"}
        return {"ok": True, "detail": self._detail}
