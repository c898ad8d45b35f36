"""The tray application: owns the agent supervisor, the API access, the tray icon and the windows.

App-wide events are Qt signals here; views subscribe to them. The agent runs as a child process and is
reached only through the local API with the tray's own admin token; nothing slow runs in the Qt thread.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox, QSystemTrayIcon

from . import autostart, prefs
from .api import Api
from .excepthook import show_error
from .supervisor import AgentSupervisor
from .views.proposition_model import parse_time

log = logging.getLogger("gum.ui")

STATE_TEXT = {
    "observing": "gum is observing",
    "idle": "gum is running but not observing",
    "paused": "gum is paused",
    "working": "gum is thinking about what it saw",
    "error": "gum has a problem",
    "starting": "gum is starting…",
    "stopped": "gum is not running",
}


def icon_for(state: str) -> QIcon:
    """The tray icon for a state (resources/icons/tray-<state>.png)."""
    from importlib import resources

    name = state if state in ("observing", "paused", "working", "error") else "stopped"
    path = resources.files("gum.resources").joinpath("icons", f"tray-{name}.png")
    return QIcon(str(path))


def remote_text(status: dict) -> str:
    """A warning when the model is off this machine (observations leave it), else ''."""
    host = status.get("model_remote")
    return f"Observations are sent to {host}" if host else ""


def backlog_text(status: dict) -> str:
    """What waits for the model and when it will be done, from the agent's status ('' when nothing waits)."""
    queue = status.get("queue") or {}
    pending = int(queue.get("pending") or 0)
    if not pending:
        return ""
    what = f"{pending} {'activity' if pending == 1 else 'activities'} waiting for the model"
    if queue.get("waiting_for") == "budget":
        return what + " (this hour's budget is spent: they wait for a pause)"
    eta = float(queue.get("eta_seconds") or 0)
    return what + (f", done in about {max(1, round(eta / 60))} min" if eta else "")


def summarize(status: dict) -> tuple[str, str]:
    """(state, reason) from the agent's status: an observer or the model failing is an error."""
    problems = [f"{name}: {h.get('detail') or 'not working'}" for name, h in (status.get("observers") or {}).items()
                if isinstance(h, dict) and not h.get("ok", True)]
    model = status.get("model_health") or {}
    if isinstance(model, dict) and not model.get("ok", True):
        problems.append(f"model: {model.get('detail') or 'not working'}")
    if status.get("state") == "error" and not problems and status.get("last_error"):
        problems.append(str(status["last_error"]))
    if status.get("state") == "error" or problems:
        return "error", "; ".join(problems) or "the agent reports an error"
    return str(status.get("state") or "observing"), ""


class GumApp(QObject):
    """The tray app's controller (vorta's application object): state, signals, windows, the agent."""

    status_changed = Signal(dict)
    state_changed = Signal(str, str)  # state, reason
    recent_changed = Signal(list)
    agent_gave_up = Signal(str)
    data_deleted = Signal()
    finished = Signal()  # quit() is done: the agent has stopped

    def __init__(self, *, port: int, token: str | None = None, supervise: bool = True,
                 agent_env: dict[str, str] | None = None, agent_command: list[str] | None = None,
                 poll_ms: int = 3000, use_tray: bool | None = None, exit_on_quit: bool = True,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.qt = QApplication.instance()
        self.port = port
        self.token = token or ("gum_tray_" + secrets.token_urlsafe(32))
        self.api = Api(f"http://127.0.0.1:{port}", self.token, parent=self)
        self.data_dir = self._data_dir()
        self.supervisor: AgentSupervisor | None = None
        if supervise:
            env = {"GUM_DATA_DIR": str(self.data_dir), **(agent_env or {})}
            self.supervisor = AgentSupervisor(self.token, port=port, env=env, command=agent_command, parent=self)
            self.supervisor.state_changed.connect(self._on_supervisor_state)
            self.supervisor.gave_up.connect(self._on_gave_up)
        self.status: dict = {}
        self.recent: list[dict] = []
        self.state, self.reason = "starting", ""
        self.use_tray = QSystemTrayIcon.isSystemTrayAvailable() if use_tray is None else use_tray
        self.tray: QSystemTrayIcon | None = None
        self.memory = None
        self.settings_dialog = None
        self._dialogs: list = []
        self._quitting = False
        self._finished = False
        self.exit_on_quit = exit_on_quit
        self._poll = QTimer(self, interval=poll_ms)
        self._poll.timeout.connect(self.poll)

    @staticmethod
    def _data_dir() -> Path:
        # GUM_DATA_DIR given to the tray wins (tests, power users); then the folder chosen in Settings.
        from gum.paths import data_dir

        if os.environ.get("GUM_DATA_DIR"):
            return data_dir()
        chosen = prefs.get("data_dir")
        return Path(chosen).expanduser() if chosen else data_dir()

    # -- life cycle ----------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the agent, show the tray icon (or the Memory window where there is no tray), poll status."""
        if self.supervisor is not None:
            self.supervisor.start()
        if self.use_tray:
            from .tray_menu import TrayMenu

            self.tray = QSystemTrayIcon(icon_for("starting"), self)
            self.menu = TrayMenu(self)
            self.tray.setContextMenu(self.menu)
            self.tray.activated.connect(self._on_tray_activated)
            self.tray.setToolTip(STATE_TEXT["starting"])
            self.tray.show()
            log.info("tray icon shown (system tray available)")
        else:
            log.warning("this desktop has no system tray: showing the Memory window instead")
            self.open_memory()
            self.memory.show_notice("Your desktop has no system tray, so gum shows this window instead. "
                                    "gum keeps running while it is open; closing it stops gum.")
        self._poll.start()
        self.poll()

    def quit(self) -> None:
        """Stop the agent cleanly, then leave."""
        if self._quitting:
            return
        self._quitting = True
        self._poll.stop()
        if self.tray is not None:
            self.tray.hide()
        if self.supervisor is not None and self.supervisor.is_running():
            self.supervisor.stopped.connect(self._finish)
            self.supervisor.stop()
        else:
            self._finish()

    def _finish(self) -> None:
        if self._finished:
            return
        self._finished = True
        log.info("gum tray app finished")
        self.finished.emit()
        if self.exit_on_quit:
            self.qt.quit()

    # -- status --------------------------------------------------------------------------------------

    def poll(self) -> None:
        """Ask the agent how it is (and for the newest propositions, for the menu)."""
        call = self.api.call("status")
        call.done.connect(self._on_status)
        call.failed.connect(self._on_status_failed)
        recent = self.api.call("recent", limit=5)
        recent.done.connect(self._on_recent)

    def _on_status(self, status: dict) -> None:
        came_up = not self.status  # the agent answers again (first start, restart, new data folder)
        self.status = status
        if came_up and self.memory is not None and self.memory.isVisible():
            self.memory.reload_all()
        if self.supervisor is not None:
            self.supervisor.mark_running()
        self._set_state(*summarize(status))
        self.status_changed.emit(status)

    def _on_status_failed(self, code: int, message: str) -> None:
        self.status = {}
        sup = self.supervisor
        if sup is not None and sup.state in ("starting", "crashed", "stopping"):
            self._set_state("starting", "")
        elif sup is not None and sup.state in ("stopped",):
            self._set_state("stopped", "")
        elif sup is not None and sup.state == "gave_up":
            self._set_state("error", "the agent keeps crashing; see its last lines")
        else:
            self._set_state("error", f"the agent does not answer: {message}")

    def _on_recent(self, rows: list) -> None:
        if rows != self.recent:
            self.recent = rows
            self.recent_changed.emit(rows)

    def _on_supervisor_state(self, state: str) -> None:
        if state in ("starting", "crashed"):
            self._set_state("starting", "")
        elif state == "stopped" and not self._quitting:
            self._set_state("stopped", "")

    def state_text(self) -> str:
        text = STATE_TEXT.get(self.state, self.state)
        until = self.status.get("paused_until")
        if self.state == "paused":
            t = parse_time(until)
            if t is not None:
                text += f" until {t.astimezone():%H:%M}"
            elif not until:
                text += " until you resume"
        return text

    def _set_state(self, state: str, reason: str) -> None:
        changed = (state, reason) != (self.state, self.reason)
        self.state, self.reason = state, reason
        backlog = backlog_text(self.status)
        tip = self.state_text() + (f"\n{reason}" if reason else "") + (f"\n{backlog}" if backlog else "")
        if remote_text(self.status):
            tip += "\n" + remote_text(self.status)
        if self.tray is not None:
            self.tray.setIcon(icon_for(state))
            self.tray.setToolTip(tip)
        if self.memory is not None:
            self.memory.set_agent_state(self.state_text() + (f": {reason}" if reason else ""))
        if changed:
            log.info("state: %s%s", state, f" ({reason})" if reason else "")
            self.state_changed.emit(state, reason)

    # -- commands from the menu ----------------------------------------------------------------------

    def pause(self, seconds: float | None) -> None:
        call = self.api.call("pause", seconds=seconds)
        call.done.connect(self._on_status_reply)

    def resume(self) -> None:
        call = self.api.call("resume")
        call.done.connect(self._on_status_reply)

    def _on_status_reply(self, status: dict) -> None:
        if isinstance(status, dict) and "state" in status:
            self._on_status(status)
        else:
            self.poll()

    def open_memory(self, select_id: int | None = None) -> None:
        from .views.memory_window import MemoryWindow

        if self.memory is None:
            self.memory = MemoryWindow(self.api)
            self.memory.closed.connect(self._on_memory_closed)
            self.memory.settings_requested.connect(self.open_settings)
        self.memory.set_agent_state(self.state_text() + (f": {self.reason}" if self.reason else ""))
        if select_id is not None:
            self.memory.select_when_loaded(select_id)
        self.memory.show()
        self.memory.raise_()
        self.memory.activateWindow()

    def _on_memory_closed(self) -> None:
        if self.tray is None:  # no tray: the window is the app
            self.quit()

    def open_settings(self) -> None:
        from .views.settings_dialog import SettingsDialog

        if self.settings_dialog is None:
            self.settings_dialog = SettingsDialog(self.api, data_dir=str(self.data_dir))
            self.settings_dialog.restart_requested.connect(self.restart_agent)
            self.settings_dialog.data_dir_changed.connect(self.set_data_dir)
            self.settings_dialog.delete_everything_requested.connect(self.delete_everything)
        self.settings_dialog.load()
        self.settings_dialog.show()
        self.settings_dialog.raise_()

    def set_start_at_login(self, enabled: bool) -> None:
        path = autostart.set_enabled(enabled)
        log.info("start at login %s (%s)", "on" if enabled else "off", path)

    def restart_agent(self) -> None:
        if self.supervisor is not None:
            self.supervisor.restart()

    def set_data_dir(self, folder: str) -> None:
        """Use another data folder from now on (the agent restarts there)."""
        self.data_dir = Path(folder).expanduser()
        prefs.set("data_dir", str(self.data_dir))
        if self.supervisor is not None:
            self.supervisor.set_env("GUM_DATA_DIR", str(self.data_dir))
            self.supervisor.restart()

    def delete_everything(self) -> None:
        """Stop the agent, delete the data folder's content, start a fresh agent."""
        sup = self.supervisor
        if sup is None:
            show_error("gum", "Delete everything needs the agent this app started.")
            return

        def wipe():
            sup.stopped.disconnect(wipe)
            errors = []
            if self.data_dir.exists():
                for child in self.data_dir.iterdir():
                    try:
                        if child.is_dir() and not child.is_symlink():
                            shutil.rmtree(child)
                        else:
                            child.unlink()
                    except OSError as exc:
                        errors.append(f"{child}: {exc}")
            if errors:
                show_error("gum", "Some files could not be deleted.", "\n".join(errors))
            log.info("deleted everything in %s", self.data_dir)
            from . import logfile

            logfile.remove()  # tray.log too: it names what the agent did
            self.data_deleted.emit()
            self.status = {}  # the Memory window reloads when the fresh agent answers
            sup.crash_times.clear()
            sup.start()

        sup.stopped.connect(wipe)
        sup.stop()

    def _on_tray_activated(self, reason) -> None:
        if reason in (QSystemTrayIcon.Trigger, QSystemTrayIcon.DoubleClick):
            self.open_memory()

    def _on_gave_up(self, tail: str) -> None:
        self._set_state("error", "the agent keeps crashing; see its last lines")
        self.agent_gave_up.emit(tail)
        box = QMessageBox(QMessageBox.Critical, "gum stopped",
                          "gum's agent crashed several times in a few minutes, so it is no longer restarted.")
        box.setInformativeText("Its last lines are below. Fix the cause, then choose Try again.")
        box.setDetailedText(tail)
        retry = box.addButton("Try again", QMessageBox.AcceptRole)
        box.addButton(QMessageBox.Close)
        box.setModal(False)

        def on_click(button):
            if button is retry and self.supervisor is not None:
                self.supervisor.crash_times.clear()
                self.supervisor.start()

        box.buttonClicked.connect(on_click)
        box.finished.connect(lambda _r: self._dialogs.remove(box) if box in self._dialogs else None)
        self._dialogs.append(box)
        box.show()
