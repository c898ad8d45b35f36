"""The active window: app name and title, with how long the user stayed and how much they typed and clicked.

Polled (cheap property reads, no screenshots) every `interval` seconds. A switch emits an observation for the
new window; while the user stays, a heartbeat every `pulse` seconds extends it (the store merges repeats),
so dwell time is measured. Heartbeats stop while the user is away from keyboard. Excluded windows (password
managers, private browsing, the lock screen) are never emitted.
"""

from __future__ import annotations

import time

from gum.privacy import Exclusions
from gum.records import Observation

from .activity import WindowInfo
from .base import Observer
from .desktop import Desktop, DesktopError, open_desktop


class ActiveWindow(Observer):
    """Emits the active window (app, title) on every switch, plus heartbeats while it stays active."""

    name = "window"
    interval = 1.0

    def __init__(self, *, exclusions: Exclusions | None = None, pulse: float = 30.0, queue: bool = True,
                 desktop_factory=open_desktop):
        super().__init__()
        self.exclusions = exclusions or Exclusions()
        self.pulse = pulse
        # queue=False: stored as evidence and engagement but not sent to the model on its own (the agent sets
        # this when the screen observer runs, whose observations already name the app and the window).
        self.queue = queue
        self._factory = desktop_factory
        self.desktop: Desktop | None = None
        self.current: WindowInfo | None = None
        self._last_emit = 0.0
        self.switches = 0

    def start(self) -> None:
        self.desktop = self._factory()
        if not self.desktop.supported:
            self.fail(self.desktop.status())
        else:
            self.ok("waiting for the first poll")

    def stop(self) -> None:
        if self.current is not None and not self.paused():
            self._heartbeat()
        self.current = None
        if self.desktop is not None:
            self.desktop.close()
            self.desktop = None

    def tick(self) -> None:
        if self.desktop is None or not self.desktop.supported or self.paused():
            return
        try:
            info = self.desktop.active_window()
        except DesktopError as exc:
            self.fail(str(exc))
            self.desktop.close()
            self.desktop = self._factory()  # reconnect on the next tick if the display comes back
            return
        now = time.monotonic()
        if info is not None and self.exclusions.window(info):
            self.activity.set_window(info, excluded=True)
            if self.current is not None:
                self._heartbeat()
                self.current = None
            self.ok("active window excluded (not recorded)")
            return
        self.activity.set_window(info)
        key = None if info is None else (info.app, info.title)
        old = None if self.current is None else (self.current.app, self.current.title)
        if key != old:
            if self.current is not None:
                self._heartbeat()  # closes the old window's span at the switch, with its last input counts
            self.current = info
            if info is not None:
                self.switches += 1
                self.activity.take(self.name)  # input before the switch belonged to the old window
                self._send(info, {"keys": 0, "clicks": 0, "scrolls": 0}, trigger="switch")
        elif info is not None and now - self._last_emit >= self.pulse and not self.activity.afk():
            self._heartbeat()
        self.ok(f"active: {info.app or '?'} - {info.title[:60]}" if info else "no active window")

    def _heartbeat(self) -> None:
        if self.current is not None:
            self._send(self.current, self.activity.take(self.name), trigger="heartbeat")

    def _send(self, info: WindowInfo, engagement: dict, *, trigger: str) -> None:
        self._last_emit = time.monotonic()
        label = f"{info.title} ({info.app})" if info.app and info.title else (info.title or info.app)
        meta = {"trigger": trigger, "engagement": {k: engagement.get(k, 0) for k in ("keys", "clicks", "scrolls")}}
        if not self.queue:
            meta["queue"] = False
        self.emit(Observation(observer=self.name, app=info.app, window=info.title,
                              text=f"Active window: {label}", meta=meta))
