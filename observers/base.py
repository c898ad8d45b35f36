"""The Observer base class: everything a new observer (a calendar, a browser history reader) needs."""

from __future__ import annotations

import logging
from typing import Callable

from gum.records import Observation

Emit = Callable[[Observation], None]


class Observer:
    """Watches one thing and calls `emit(Observation)` for what it sees.

    Subclasses set `name` and implement `start()` and `stop()`; both return quickly (run loops in threads).
    `self.emit` is set by whoever runs the observer before `start()` is called.

        class Calendar(Observer):
            name = "calendar"

            def start(self):
                for event in read_today():
                    self.emit(Observation(observer=self.name, app="Calendar", text=event.title))

            def stop(self):
                pass
    """

    name: str = "observer"

    def __init__(self) -> None:
        self.emit: Emit = lambda obs: None
        self.log = logging.getLogger(f"gum.observers.{self.name}")

    def attach(self, emit: Emit) -> None:
        self.emit = emit

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        pass

    def health(self) -> dict:
        """{'ok': bool, 'detail': str}: whether this observer is still producing, and why not."""
        return {"ok": True, "detail": ""}
