"""The Python API, close to the reference gum-ai's, so its users can switch.

    async with gum("Priya", Screen(), model="embedded") as g:
        props = await g.query("thesis")

Observations from the observers are stored at once; the model works through them in a background thread.
"""

from __future__ import annotations

import asyncio
import os
import threading
from datetime import timedelta
from pathlib import Path

from .config import Settings, load_settings
from .engine import Engine, Summary
from .records import Observation, Proposition
from .search import query as _query
from .search import recent as _recent
from .store import Store


class Gum:
    """A user model for `user_name`, fed by `observers`, revised by `model`."""

    def __init__(
        self,
        user_name: str = "",
        *observers,
        model=None,
        data_dir: str | Path | None = None,
        settings: Settings | None = None,
        process_every: float = 30.0,
    ):
        if data_dir is not None:
            os.environ["GUM_DATA_DIR"] = str(Path(data_dir).expanduser())
        self.settings = settings or load_settings(user_name=user_name or None)
        self.user_name = user_name or self.settings.user_name
        self.observers = list(observers)
        self._model_arg = model
        self._model = None
        self.process_every = process_every
        self.store = Store()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- the model and the engine are loaded on first use --------------------------------------------

    @property
    def model(self):
        if self._model is None:
            from .backends import load_model

            arg = self._model_arg
            self._model = load_model(arg or self.settings.model, self.settings) if arg is None or isinstance(
                arg, str) else arg
        return self._model

    def engine(self, store: Store | None = None) -> Engine:
        return Engine.from_settings(store or self.store, self.model, self.settings, user_name=self.user_name)

    # -- sync API ---------------------------------------------------------------------------------

    def add(self, obs: Observation) -> int:
        """Store an observation (it waits in the queue for the model)."""
        with self._lock:
            obs_id, _ = self.store.add_observation(obs, merge_within=timedelta(minutes=2))
        self._wake.set()
        return obs_id

    def process(self, limit: int | None = None) -> Summary:
        """Run the model over queued observations now, in this thread."""
        store = Store()  # its own connection: this may run beside the caller's thread
        try:
            return self.engine(store).run(limit=limit, should_stop=self._stop.is_set)
        finally:
            store.close()

    def query_sync(self, text: str, *, limit: int = 10, since=None, until=None) -> list[Proposition]:
        with self._lock:
            return _query(self.store, text, limit=limit, since=since, until=until)

    def recent_sync(self, limit: int = 10) -> list[Proposition]:
        with self._lock:
            return _recent(self.store, limit=limit)

    # -- async API --------------------------------------------------------------------------------

    async def query(self, text: str, *, limit: int = 10, since=None, until=None) -> list[Proposition]:
        return await asyncio.to_thread(self.query_sync, text, limit=limit, since=since, until=until)

    async def recent(self, limit: int = 10) -> list[Proposition]:
        return await asyncio.to_thread(self.recent_sync, limit)

    async def __aenter__(self) -> Gum:
        self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await asyncio.to_thread(self.close)

    def __enter__(self) -> Gum:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        """Start the observers and the background worker that feeds the model."""
        for obs in self.observers:
            obs.attach(self.add)
            obs.start()
        if self.observers:
            self._worker = threading.Thread(target=self._work, name="gum-engine", daemon=True)
            self._worker.start()

    def _work(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.process_every)
            self._wake.clear()
            if not self._stop.is_set():
                self.process()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        for obs in self.observers:
            obs.stop()
        if self._worker:
            self._worker.join(timeout=60)
        self.store.close()


gum = Gum
