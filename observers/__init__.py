"""Observers (imported as gum.observers): each watches one thing and emits Observations.

    from gum.observers import Observer, Screen
"""

from __future__ import annotations

from .base import Observer

__all__ = ["ActiveWindow", "InputActivity", "Observer", "Screen"]

_LAZY = {"Screen": ".screen", "InputActivity": ".input", "ActiveWindow": ".window"}


def __getattr__(name: str):
    # Observers import mss, pynput or Xlib: load each only when it is asked for.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(name)
