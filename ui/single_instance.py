"""One tray app per user (per config folder): a lock file, and a local socket so that a second start only
brings the first one's Memory window forward."""

from __future__ import annotations

import hashlib

from PySide6.QtCore import QLockFile, QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket


def _names() -> tuple[str, str]:
    from gum.paths import config_dir, ensure_private_dir

    folder = ensure_private_dir(config_dir())
    key = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:16]
    return str(folder / "ui.lock"), f"gum-ui-{key}"


class SingleInstance(QObject):
    """acquire() is True for the first instance; later ones ping it and get False."""

    activated = Signal()  # another start was attempted: show yourself

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        lock_path, self.server_name = _names()
        self.lock = QLockFile(lock_path)
        self.lock.setStaleLockTime(0)  # a lock left by a dead process is taken over (QLockFile checks the pid)
        self.server: QLocalServer | None = None

    def acquire(self) -> bool:
        if not self.lock.tryLock(200):
            sock = QLocalSocket()
            sock.connectToServer(self.server_name)
            if sock.waitForConnected(1000):
                sock.write(b"show\n")
                sock.waitForBytesWritten(1000)
                sock.disconnectFromServer()
            return False
        QLocalServer.removeServer(self.server_name)  # a socket file left by a crash
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.UserAccessOption)
        self.server.newConnection.connect(self._on_connection)
        self.server.listen(self.server_name)
        return True

    def _on_connection(self) -> None:
        while self.server is not None and self.server.hasPendingConnections():
            conn = self.server.nextPendingConnection()
            conn.readyRead.connect(conn.readAll)
            conn.disconnected.connect(conn.deleteLater)
            self.activated.emit()

    def release(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        self.lock.unlock()
