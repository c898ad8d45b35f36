"""An exception nobody caught is logged and shown in a dialog, instead of the app dying silently."""

from __future__ import annotations

import logging
import sys
import threading
import traceback

log = logging.getLogger("gum.ui")
_open_dialogs: list = []


def show_error(title: str, text: str, details: str = "") -> None:
    """A non-modal message box (it never blocks the event loop)."""
    from PySide6.QtWidgets import QApplication, QMessageBox

    if QApplication.instance() is None:
        return
    box = QMessageBox(QMessageBox.Critical, title, text)
    if details:
        box.setDetailedText(details)
    box.setModal(False)
    box.finished.connect(lambda _r, b=box: _open_dialogs.remove(b) if b in _open_dialogs else None)
    _open_dialogs.append(box)
    box.show()


def excepthook(exc_type, exc, tb) -> None:
    details = "".join(traceback.format_exception(exc_type, exc, tb))
    log.error("uncaught exception:\n%s", details)
    if issubclass(exc_type, KeyboardInterrupt):
        return
    show_error("gum: something went wrong", f"{exc_type.__name__}: {exc}", details)


def install() -> None:
    """Route uncaught exceptions (Qt thread and others) to the log and a dialog."""
    sys.excepthook = excepthook

    def thread_hook(args) -> None:
        details = "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))
        log.error("uncaught exception in thread %s:\n%s", getattr(args.thread, "name", "?"), details)

    threading.excepthook = thread_hook
