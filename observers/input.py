"""Input activity: how much and how often the user types, clicks and scrolls, and when they are away.

pynput's listeners count events by kind only. The key itself is never read, stored or logged: the keyboard
callback ignores its argument. Counts feed the screen observer's triggers (a click, a typing pause, the end
of a scroll) and the engagement evidence of screen and window observations; this observer's own summaries
are stored as engagement data (meta "queue": False), never sent to the model as claims on their own.
"""

from __future__ import annotations

import logging
import sys
import time

from gum.records import Observation

from .base import Observer


class InputActivity(Observer):
    """Counts key presses, clicks, scroll steps and mouse moves; summarises them every `interval` seconds."""

    name = "input"
    interval = 60.0

    def __init__(self, *, afk_after: float = 180.0):
        super().__init__()
        self.afk_after = afk_after
        self._listeners: list = []
        self._was_afk = False
        self._bursts_seen = 0
        self._active_seen = 0.0
        self._period_start = time.monotonic()

    def start(self) -> None:
        self.activity.afk_after = self.afk_after
        try:
            from pynput import keyboard, mouse
        except ImportError as exc:  # pynput raises ImportError when it finds no display it can use
            self.fail(f"unsupported: pynput cannot listen here ({str(exc).splitlines()[0]})")
            return
        record = self._record

        def on_press(_key):  # the key is deliberately ignored: counts only
            record("keys")

        self._listeners = [
            keyboard.Listener(on_press=on_press),
            mouse.Listener(
                on_move=lambda x, y: record("moves"),
                on_click=lambda x, y, button, pressed: record("clicks") if pressed else None,
                on_scroll=lambda x, y, dx, dy: record("scrolls"),
            ),
        ]
        for listener in self._listeners:
            listener.daemon = True
            listener.start()
        for listener in self._listeners:
            listener.wait()
        self._period_start = time.monotonic()
        self.ok("listening (counts only, never which keys)")

    def _record(self, kind: str) -> None:
        if not self.paused():
            self.activity.record(kind)

    def stop(self) -> None:
        for listener in self._listeners:
            listener.stop()
        for listener in self._listeners:
            listener.join(timeout=0.2)
        if any(listener.is_alive() for listener in self._listeners) and sys.platform.startswith("linux"):
            _wake_x11_listeners()
        for listener in self._listeners:
            listener.join(timeout=2)
        self._listeners = []

    def health(self) -> dict:
        dead = [type(lst).__module__.rsplit(".", 2)[-2] for lst in self._listeners if not lst.is_alive()]
        if dead:
            self.fail(f"the {' and '.join(dead)} listener stopped")
        return super().health()

    def tick(self) -> None:
        if not self._listeners:
            return
        if self.paused():
            self.activity.take(self.name)  # nothing counted while paused is reported afterwards
            self._period_start = time.monotonic()
            return
        now = time.monotonic()
        counts = self.activity.take(self.name)
        bursts = self.activity.bursts - self._bursts_seen
        active = self.activity.active_seconds - self._active_seen
        self._bursts_seen, self._active_seen = self.activity.bursts, self.activity.active_seconds
        period = now - self._period_start
        self._period_start = now
        afk = self.activity.afk()
        idle = self.activity.idle_seconds()
        meta = {"queue": False, "input": {**counts, "bursts": bursts, "active_s": round(active, 1),
                                          "period_s": round(period, 1), "afk": afk,
                                          "idle_s": None if idle is None else round(idle, 1)}}
        if any(counts[k] for k in ("keys", "clicks", "scrolls")) or bursts:
            text = (f"Input activity over {period:.0f} s: {counts['keys']} key presses, {counts['clicks']} clicks, "
                    f"{counts['scrolls']} scroll steps in {bursts} bursts ({active:.0f} s active)")
            self.emit(Observation(observer=self.name, text=text, meta=meta))
        elif afk and not self._was_afk:
            self.emit(Observation(observer=self.name, text=f"Away from keyboard (no input for {idle:.0f} s)",
                                  meta=meta))
        self._was_afk = afk
        self.ok("away from keyboard" if afk else "listening (counts only, never which keys)")


def _wake_x11_listeners() -> None:
    """Let stopped pynput X11 listeners return: they notice stop() only when one more event arrives.

    Sends, through XTest, a pointer move to where the pointer already is and a press and release of a
    keycode with no key mapped to it: nothing changes for any app.
    """
    try:
        from Xlib import X, display
        from Xlib.ext import xtest

        d = display.Display()
        try:
            p = d.screen().root.query_pointer()
            xtest.fake_input(d, X.MotionNotify, x=p.root_x, y=p.root_y)
            unmapped = next((k for k in range(255, 8, -1)
                             if all(d.keycode_to_keysym(k, i) == 0 for i in range(4))), None)
            if unmapped is not None:
                xtest.fake_input(d, X.KeyPress, unmapped)
                xtest.fake_input(d, X.KeyRelease, unmapped)
            d.sync()
        finally:
            d.close()
    except Exception:  # the display may be gone already; then the listeners end with it
        logging.getLogger("gum.observers.input").debug("could not wake the X11 listeners", exc_info=True)
