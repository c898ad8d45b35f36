"""The agent: observers + engine + local API in one headless process (`gum start`).

Observations are stored the moment they are captured (redacted first); the engine works through the queue
in its own thread, so the model never blocks capture. The tray app and plugins talk to a running agent only
through the local API (gum/api/), which calls the methods below.

Status is truthful: `status()` reports each observer's health, whether the model is busy, the queue, the
last error and whether observing is paused.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from datetime import datetime, timedelta

import click

from .config import Settings, load_settings
from .privacy import Redactor
from .records import Observation, iso, utcnow
from .store import Store

log = logging.getLogger("gum.agent")


class Agent:
    """Runs observers, the engine and the API until stopped."""

    def __init__(self, settings: Settings | None = None, *, observers: list | None = None, model=None,
                 serve_api: bool = True):
        self.settings = settings or load_settings()
        self.observers = list(observers) if observers is not None else []
        self._model = model
        self.serve_api = serve_api
        self.redactor = Redactor(self.settings.redact_patterns)
        self.started_at = utcnow()
        self.paused_until: datetime | None = None
        self._paused_forever = False
        self.busy = False
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._store_local = threading.local()
        self._threads: list[threading.Thread] = []
        self.api = None

    # -- storage: one connection per thread (sqlite connections are not shared) ----------------------

    def store(self) -> Store:
        """This thread's Store."""
        store = getattr(self._store_local, "store", None)
        if store is None:
            store = Store()
            self._store_local.store = store
        return store

    # -- observing -------------------------------------------------------------------------------------

    def emit(self, obs: Observation) -> int | None:
        """Store an observation from an observer (redacted), unless observing is paused."""
        if self.is_paused():
            return None
        obs.text = self.redactor.redact(obs.text)
        obs.window = self.redactor.redact(obs.window)
        obs_id, _ = self.store().add_observation(obs, merge_within=timedelta(minutes=2))
        self._wake.set()
        return obs_id

    def is_paused(self) -> bool:
        if self._paused_forever:
            return True
        if self.paused_until and utcnow() < self.paused_until:
            return True
        self.paused_until = None
        return False

    def pause(self, seconds: float | None = None) -> None:
        """Stop observing for `seconds`, or until resume() when None. Observers check this at once."""
        if seconds is None:
            self._paused_forever = True
        else:
            self.paused_until = utcnow() + timedelta(seconds=seconds)
        for obs in self.observers:
            if hasattr(obs, "on_pause"):
                obs.on_pause()

    def resume(self) -> None:
        self._paused_forever = False
        self.paused_until = None
        for obs in self.observers:
            if hasattr(obs, "on_resume"):
                obs.on_resume()

    # -- the engine ------------------------------------------------------------------------------------

    @property
    def model(self):
        if self._model is None:
            from .backends import load_model

            self._model = load_model(self.settings.model, self.settings)
        return self._model

    def process_queue(self) -> None:
        """Run the engine over what is queued (called by the engine thread)."""
        from .engine import Engine

        if self.store().queue_counts()["pending"] == 0:
            return
        self.busy = True
        try:
            engine = Engine(self.store(), self.model, user_name=self.settings.user_name,
                            batch_size=self.settings.batch_size, max_attempts=self.settings.max_attempts)
            summary = engine.run(should_stop=self._stop.is_set)
            if summary.errors:
                self.last_error = summary.errors[-1]
        except Exception as exc:  # the agent keeps running; the error is reported in status
            self.last_error = f"engine: {exc}"
            log.exception("engine run failed")
        finally:
            self.busy = False

    def _engine_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=60)
            self._wake.clear()
            if not self._stop.is_set():
                self.process_queue()

    # -- status ----------------------------------------------------------------------------------------

    def status(self) -> dict:
        store = self.store()
        observers = {}
        for obs in self.observers:
            try:
                observers[obs.name] = obs.health()
            except Exception as exc:
                observers[obs.name] = {"ok": False, "detail": f"health check failed: {exc}"}
        model_name = getattr(self._model, "name", None) or self.settings.model
        return {
            "state": "paused" if self.is_paused() else ("working" if self.busy else "observing"),
            "paused": self.is_paused(),
            "paused_until": iso(self.paused_until) if self.paused_until else None,
            "busy": self.busy,
            "model": model_name,
            "observers": observers,
            "queue": store.queue_counts(),
            "counts": store.counts(),
            "last_error": self.last_error,
            "started_at": iso(self.started_at),
        }

    # -- life cycle ------------------------------------------------------------------------------------

    def start(self) -> None:
        for obs in self.observers:
            obs.attach(self.emit)
            obs.start()
        t = threading.Thread(target=self._engine_loop, name="gum-engine", daemon=True)
        t.start()
        self._threads.append(t)
        if self.serve_api:
            try:
                from .api.server import ApiServer
            except ImportError:
                log.warning("the local API is not available in this build")
            else:
                self.api = ApiServer(self, port=self.settings.api_port)
                self.api.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for obs in self.observers:
            try:
                obs.stop()
            except Exception:
                log.exception("stopping observer %s", obs.name)
        if self.api is not None:
            self.api.stop()
        for t in self._threads:
            t.join(timeout=30)

    def run_forever(self) -> None:
        """Start, then wait for Ctrl-C or SIGTERM, then stop cleanly."""
        def on_signal(signum, frame):
            self._stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        self.start()
        try:
            while not self._stop.is_set():
                time.sleep(0.2)
        finally:
            self.stop()


@click.command("start")
def start_command() -> None:
    """Run the agent in the foreground: observe, learn, serve the local API (Ctrl-C stops it)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    agent = Agent()
    click.echo(f"gum agent started (observers: {', '.join(o.name for o in agent.observers) or 'none'}).", err=True)
    agent.run_forever()
    click.echo("gum agent stopped.", err=True)
