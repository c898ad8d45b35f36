"""The Python API, close to the reference gum-ai's, so its users can switch.

    async with gum("Priya", Screen(), model="embedded") as g:
        props = await g.query("thesis")

It runs the same agent as `gum start` (gum/agent.py), minus the local API: observers are ticked by the
scheduler, every observation goes through the same intake (pause, exclusions, redaction, activity
segments), and the model works through the queue in a background thread at low priority.
"""

from __future__ import annotations

import asyncio
import os
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
        process_every: float | None = None,
    ):
        if data_dir is not None:
            os.environ["GUM_DATA_DIR"] = str(Path(data_dir).expanduser())
        self.settings = settings or load_settings(user_name=user_name or None)
        if isinstance(model, str):
            self.settings = self.settings.model_copy(update={"model": model})
        self.user_name = user_name or self.settings.user_name
        if self.user_name != self.settings.user_name:
            self.settings = self.settings.model_copy(update={"user_name": self.user_name})
        self.observers = list(observers)
        # Kept for gum-ai compatibility; the agent's queue check decides when the model runs.
        self.process_every = process_every
        self.store = Store()
        from .agent import Agent

        self.agent = Agent(self.settings, observers=self.observers,
                           model=None if model is None or isinstance(model, str) else model, serve_api=False)

    @property
    def model(self):
        return self.agent.model

    def engine(self, store: Store | None = None) -> Engine:
        return Engine.from_settings(store or self.store, self.model, self.settings, user_name=self.user_name)

    # -- sync API ---------------------------------------------------------------------------------

    def add(self, obs: Observation) -> int | None:
        """Take in an observation the way an observer's is taken in (None: dropped, e.g. while paused)."""
        obs_id = self.agent.emit(obs)
        self.agent.check_queue()
        return obs_id

    def process(self, limit: int | None = None) -> Summary:
        """Close the activities still open, then run the model over what is queued, in this thread."""
        self.agent.intake.close_all("process")
        store = Store()  # its own connection: this may run beside the caller's thread
        try:
            return self.engine(store).run(limit=limit, should_stop=self.agent._stop.is_set)
        finally:
            store.close()

    def query_sync(self, text: str, *, limit: int = 10, since=None, until=None) -> list[Proposition]:
        return _query(self.store, text, limit=limit, since=since, until=until)

    def recent_sync(self, limit: int = 10) -> list[Proposition]:
        return _recent(self.store, limit=limit)

    def status(self) -> dict:
        """The agent's status: observers' health, the queue, what the intake did."""
        return self.agent.status()

    # -- async API --------------------------------------------------------------------------------

    async def query(self, text: str, *, limit: int = 10, since=None, until=None) -> list[Proposition]:
        return await asyncio.to_thread(self.query_sync, text, limit=limit, since=since, until=until)

    async def recent(self, limit: int = 10) -> list[Proposition]:
        return await asyncio.to_thread(self.recent_sync, limit)

    async def __aenter__(self) -> Gum:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(self, *exc) -> None:
        await asyncio.to_thread(self.close)

    def __enter__(self) -> Gum:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        """Start the observers, their scheduler and the engine thread (as `gum start` does, without the API)."""
        self.agent.start()

    def close(self) -> None:
        """Stop observing; open activities are closed and wait in the queue for the next run."""
        self.agent.stop()
        self.store.close()


gum = Gum
