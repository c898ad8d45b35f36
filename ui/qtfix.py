"""A guard against a reference-count bug of PySide6 6.12 on CPython 3.11.

Measured (PySide6 6.12.0, CPython 3.11.7): every call of a Qt method that returns nothing (QPainter.drawRect,
QLabel.setText, QWidget.update...) takes one reference from None without having given it one. On CPython
3.12 and later None is immortal and nothing happens; on 3.11 None starts with a few thousand references, so
a window that paints a few thousand shapes ends the process with "Fatal Python error: none_dealloc" (the
Timeline's benchmark did within seconds). The guard checks for the bug with a few harmless calls and, only
where it is there, gives None a stock of references no session can use up.
"""

from __future__ import annotations

import sys

_done = False
PROBE_CALLS = 64
STOCK = 1 << 40  # a call takes one: a million calls a second would need twelve days to use this up


def keep_none_alive() -> bool:
    """Protect this process from the bug if its Qt binding has it; True if the stock was given. Idempotent."""
    global _done
    if _done or sys.version_info >= (3, 12):
        return False
    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(PROBE_CALLS):
        probe.setObjectName("probe")  # returns nothing
    lost = before - sys.getrefcount(None)
    _done = True
    if lost < PROBE_CALLS // 2:
        return False
    import ctypes

    # ob_refcnt is the first field of every object in CPython's non-debug builds.
    ctypes.c_ssize_t.from_address(id(None)).value += STOCK
    return True
