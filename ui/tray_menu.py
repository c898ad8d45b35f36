"""The tray icon's menu, rebuilt each time it is about to show, from the application's latest status."""

from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from . import autostart


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


class TrayMenu(QMenu):
    """Open Memory, pause/resume, a few recent propositions, settings, start at login, quit."""

    def __init__(self, app, parent=None):
        super().__init__(parent)
        self.app = app
        self.aboutToShow.connect(self.rebuild)
        self.rebuild()

    def rebuild(self) -> None:
        self.clear()
        app = self.app
        state, reason = app.state, app.reason
        header = self.addAction(app.state_text())
        header.setEnabled(False)
        if state == "error" and reason:
            line = self.addAction(_short(reason, 80))
            line.setEnabled(False)
            line.setToolTip(reason)
        from .application import backlog_text, remote_text

        if remote_text(app.status):
            self.addAction(remote_text(app.status)).setEnabled(False)

        backlog = backlog_text(app.status)
        if backlog:
            self.addAction(backlog).setEnabled(False)
        self.addSeparator()
        self.addAction("Open Memory…", app.open_memory)
        self.addSeparator()
        paused = bool(app.status.get("paused"))
        can_talk = app.status != {}
        if paused:
            self.addAction("Resume observing", app.resume).setEnabled(can_talk)
        pause_menu = self.addMenu("Pause observing")
        pause_menu.setEnabled(can_talk)
        pause_menu.addAction("For 15 minutes", lambda: app.pause(15 * 60))
        pause_menu.addAction("For 1 hour", lambda: app.pause(60 * 60))
        pause_menu.addAction("Until I resume", lambda: app.pause(None))
        self.addSeparator()
        recent = self.addMenu("Recent propositions")
        if app.recent:
            for p in app.recent[:5]:
                recent.addAction(f"{_short(p.get('text', ''))}  [{p.get('confidence')}/10]",
                                 lambda pid=p["id"]: app.open_memory(select_id=pid))
        else:
            recent.addAction("None yet").setEnabled(False)
        self.addSeparator()
        self.addAction("Settings…", app.open_settings)
        login = QAction("Start at login", self)
        login.setCheckable(True)
        login.setChecked(autostart.is_enabled())
        login.toggled.connect(app.set_start_at_login)
        self.addAction(login)
        self.addSeparator()
        self.addAction("Quit gum", app.quit)
