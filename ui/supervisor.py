"""The agent as a child process of the tray: handed the tray's token on stdin, restarted when it crashes.

The agent (`python -m gum.cli start`) does the observing, OCR and model work; the Qt process only talks to
it over the local API. If it dies unexpectedly it is restarted, at most `max_restarts` times within
`window_s` seconds; after that the supervisor gives up and reports the last lines the agent wrote.
"""

from __future__ import annotations

import collections
import logging
import os
import time

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

from gum.launch import gum_command

log = logging.getLogger("gum.ui.supervisor")
agent_log = logging.getLogger("gum.ui.agent")  # the agent's own output, kept in the tray's log

LOG_LINES = 200


class AgentSupervisor(QObject):
    """Starts, watches, restarts and stops the agent process."""

    state_changed = Signal(str)  # starting, running, stopping, stopped, crashed, gave_up
    crashed = Signal(int, str)  # exit code, last lines
    gave_up = Signal(str)  # the last lines of the agent's output
    stopped = Signal()  # after stop(): the agent has exited
    output = Signal(str)  # each line the agent writes

    def __init__(self, token: str, *, port: int, env: dict[str, str] | None = None,
                 command: list[str] | None = None, max_restarts: int = 3, window_s: float = 600.0,
                 restart_delay_ms: int = 1000, parent: QObject | None = None):
        super().__init__(parent)
        self.token = token
        self.port = port
        self.extra_env = dict(env or {})
        self.command = command or gum_command("start")
        self.max_restarts = max_restarts
        self.window_s = window_s
        self.restart_delay_ms = restart_delay_ms
        self.lines: collections.deque[str] = collections.deque(maxlen=LOG_LINES)
        self.crash_times: list[float] = []
        self.state = "stopped"
        self.starts = 0
        self._stopping = False
        self._partial = ""
        self.proc: QProcess | None = None
        self._kill_timer = QTimer(self, singleShot=True)
        self._kill_timer.timeout.connect(self._kill)

    # -- control -------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the agent (no-op if it is running)."""
        if self.proc is not None and self.proc.state() != QProcess.NotRunning:
            return
        self._stopping = False
        proc = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()
        # The token goes down the agent's stdin, never its environment or argv (readable in /proc).
        env.insert("GUM_TRAY_TOKEN_FD", "0")
        env.remove("GUM_TRAY_TOKEN")
        env.insert("GUM_API_PORT", str(self.port))
        env.insert("GUM_TRAY_PID", str(os.getpid()))  # the agent never captures the tray's own windows
        env.insert("PYTHONUNBUFFERED", "1")
        for key, value in self.extra_env.items():
            env.insert(key, value)
        proc.setProcessEnvironment(env)
        proc.setProcessChannelMode(QProcess.MergedChannels)
        proc.readyReadStandardOutput.connect(lambda p=proc: self._read(p))
        proc.finished.connect(lambda code, status, p=proc: self._on_finished(p, code, status))
        proc.errorOccurred.connect(lambda err, p=proc: self._on_error(p, err))
        proc.started.connect(lambda p=proc: self._hand_token(p))
        self.proc = proc
        self.starts += 1
        self._set_state("starting")
        log.info("starting the agent: %s", " ".join(self.command))
        proc.start(self.command[0], self.command[1:])

    def _hand_token(self, proc: QProcess) -> None:
        proc.write((self.token + "\n").encode())
        proc.closeWriteChannel()

    def stop(self, timeout_ms: int = 15000) -> None:
        """Ask the agent to stop (SIGTERM: it finishes cleanly); kill it if it has not exited in time."""
        self._stopping = True
        if self.proc is None or self.proc.state() == QProcess.NotRunning:
            if self.state != "stopped":
                self._set_state("stopped")
                self.stopped.emit()
            return
        self._set_state("stopping")
        self.proc.terminate()
        self._kill_timer.start(timeout_ms)

    def stop_and_wait(self, timeout_ms: int = 15000) -> bool:
        """stop(), blocking until the agent exited (for the very end of the app). True if it exited."""
        proc = self.proc
        self.stop(timeout_ms)
        if proc is None:
            return True
        if not proc.waitForFinished(timeout_ms):
            proc.kill()
            proc.waitForFinished(3000)
        return proc.state() == QProcess.NotRunning

    def restart(self) -> None:
        """Stop the agent, then start it again (e.g. so that new settings apply)."""
        if not self.is_running():
            self.crash_times.clear()
            self.start()
            return

        def again():
            self.stopped.disconnect(again)
            self.crash_times.clear()
            self.start()

        self.stopped.connect(again)
        self.stop()

    def set_env(self, key: str, value: str | None) -> None:
        """An environment variable for the next start (None removes it)."""
        if value is None:
            self.extra_env.pop(key, None)
        else:
            self.extra_env[key] = value

    def pid(self) -> int | None:
        if self.proc is None or self.proc.state() == QProcess.NotRunning:
            return None
        return int(self.proc.processId())

    def is_running(self) -> bool:
        return self.pid() is not None

    def last_lines(self, n: int = 40) -> str:
        return "\n".join(list(self.lines)[-n:])

    def mark_running(self) -> None:
        """Called when the agent's API answered: it is up."""
        if self.state == "starting":
            self._set_state("running")

    # -- events --------------------------------------------------------------------------------------

    def _read(self, proc: QProcess) -> None:
        text = self._partial + bytes(proc.readAllStandardOutput()).decode("utf-8", "replace")
        *complete, self._partial = text.split("\n")
        for line in complete:
            line = line.rstrip("\r")
            self.lines.append(line)
            agent_log.info("%s", line)
            self.output.emit(line)

    def _on_error(self, proc: QProcess, err) -> None:
        if err == QProcess.FailedToStart:
            self.lines.append(f"could not start {' '.join(self.command)}: {proc.errorString()}")
            self._on_finished(proc, -1, QProcess.CrashExit)

    def _on_finished(self, proc: QProcess, code: int, status) -> None:
        if proc is not self.proc or getattr(proc, "_gum_done", False):
            return
        proc._gum_done = True  # finished and errorOccurred may both report one failure
        self._read(proc)
        if self._partial:
            self.lines.append(self._partial)
            self._partial = ""
        self._kill_timer.stop()
        if self._stopping:
            log.info("the agent stopped (exit code %s)", code)
            self._set_state("stopped")
            self.stopped.emit()
            return
        # Not asked to stop: a crash, whatever the exit code says.
        now = time.monotonic()
        self.crash_times = [t for t in self.crash_times if now - t < self.window_s] + [now]
        tail = self.last_lines()
        log.warning("the agent exited unexpectedly (exit code %s)", code)
        self._set_state("crashed")
        self.crashed.emit(int(code), tail)
        if len(self.crash_times) > self.max_restarts:
            self._set_state("gave_up")
            self.gave_up.emit(tail)
            return
        QTimer.singleShot(self.restart_delay_ms, self._restart_after_crash)

    def _restart_after_crash(self) -> None:
        if not self._stopping and self.state == "crashed":
            self.start()

    def _kill(self) -> None:
        if self.proc is not None and self.proc.state() != QProcess.NotRunning:
            log.warning("the agent did not stop in time: killing it")
            self.proc.kill()

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)

