"""The tray's only way to the agent: the local API's Client, called in worker threads, answered by signals.

Every call runs in a QThreadPool; the Qt thread never waits on the network. A caller gets a `Call` whose
`done(result)` or `failed(status, message)` signal fires in the Qt thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger("gum.ui.api")


class Call(QObject):
    """One API call in flight; its signals arrive in the thread that created it (the Qt thread)."""

    done = Signal(object)
    failed = Signal(int, str)

    def __init__(self, name: str):
        super().__init__()
        self.name = name


class _Job(QRunnable):
    def __init__(self, api: Api, call: Call, fn: Callable[..., Any], args: tuple, kwargs: dict):
        super().__init__()
        self.api, self.call, self.fn, self.args, self.kwargs = api, call, fn, args, kwargs

    def run(self) -> None:  # in a pool thread
        try:
            result = self.fn(self.api.client(), *self.args, **self.kwargs)
        except Exception as exc:  # every failure becomes a signal; nothing escapes into the pool
            status = getattr(exc, "status", -1)
            message = getattr(exc, "message", None) or str(exc) or exc.__class__.__name__
            if status == -1:
                log.exception("API call %s failed", self.call.name)
            self.api._finished(self.call, None, (int(status), str(message)))
        else:
            self.api._finished(self.call, result, None)


class Api(QObject):
    """Asynchronous access to the agent's local API with one token (the tray's admin token)."""

    # Every failure also goes here, so the window's status bar can show it.
    error = Signal(str, int, str)  # call name, status, message
    _deliver = Signal(object, object, object)  # (call, result, error): hops from a pool thread to Qt's

    def __init__(self, base_url: str, token: str, parent: QObject | None = None, pool: QThreadPool | None = None):
        super().__init__(parent)
        self.base_url = base_url
        self.token = token
        self.pool = pool or QThreadPool.globalInstance()
        self._local = threading.local()
        self._inflight: set[Call] = set()
        self._deliver.connect(self._on_deliver)

    def client(self):
        """This pool thread's Client (created on first use)."""
        c = getattr(self._local, "client", None)
        if c is None:
            from gum.api.client import Client

            c = Client(base_url=self.base_url, token=self.token, timeout=30.0)
            self._local.client = c
        return c

    def run(self, name: str, fn: Callable[..., Any], *args, **kwargs) -> Call:
        """Run fn(client, *args, **kwargs) in a worker; returns the Call whose signals carry the answer."""
        call = Call(name)
        self._inflight.add(call)  # keep it alive until its answer is delivered
        self.pool.start(_Job(self, call, fn, args, kwargs))
        return call

    def call(self, method: str, *args, **kwargs) -> Call:
        """Client.<method>(*args, **kwargs) in a worker."""
        def invoke(client, *a, **kw):
            fn = getattr(client, method, None)
            if fn is None:
                raise NotAvailable(f"this agent's API has no {method}()")
            return fn(*a, **kw)

        return self.run(method, invoke, *args, **kwargs)

    def in_flight(self) -> int:
        return len(self._inflight)

    # -- delivery ------------------------------------------------------------------------------------

    def _finished(self, call: Call, result, error) -> None:  # in a pool thread
        self._deliver.emit(call, result, error)

    def _on_deliver(self, call: Call, result, error) -> None:  # in the Qt thread
        self._inflight.discard(call)
        if error is None:
            call.done.emit(result)
        else:
            status, message = error
            call.failed.emit(status, message)
            self.error.emit(call.name, status, message)


class NotAvailable(Exception):
    """The agent's API does not offer this call (an older or newer agent)."""

    status = 501

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
