"""The agent: observers + engine + local API in one headless process (`gum start`).

Observations are stored the moment they are captured (redacted first); the engine works through the queue
in its own thread, so the model never blocks capture. The tray app and plugins talk to a running agent only
through the local API (gum/api/), which calls the methods below.

APScheduler (gum/scheduler.py) runs the periodic work: observer ticks (the screen's slow timer, the window
poll, the input summary), the batch check (the engine runs when `batch_size` observations wait or the oldest
has waited `batch_wait_minutes`), health checks that restart an observer which stopped producing, retention
of kept screenshots, a periodic consolidation, and a wake-gap check that catches up after sleep.

Status is truthful: `status()` reports each observer's health, whether the model is busy, the queue, the
last error, redaction counts and whether observing is paused.

Engagement: screen and window observations carry meta["engagement"] = {keys, clicks, scrolls, dwell_s}:
the input counts while they were current, summed over heartbeat merges, and the span they stayed on
screen. Observations with meta["queue"] = False (input summaries; window observations while the screen
observer runs) are stored as evidence but not queued for the model.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from datetime import datetime, timedelta

import click

from .config import Settings, load_settings
from .errors import ConfigError, GumError
from .privacy import Exclusions, Redactor
from .records import Observation, iso, parse_ts, utcnow
from .store import Store

log = logging.getLogger("gum.agent")

MERGE_WITHIN = timedelta(minutes=2)  # a repeat within this extends the previous observation (heartbeat)
PROCESS_CHECK_S = 15.0
HEALTH_CHECK_S = 5.0
WAKE_CHECK_S = 10.0
RETENTION_S = 3600.0
RESTART_BACKOFF_S = (10.0, 600.0)  # first retry after 10 s, doubling up to 10 minutes


def build_observers(settings: Settings, names: list[str] | None = None) -> list:
    """The observers named in settings (built-ins, or plugins registered under the "gum.observers" entry point)."""
    from gum.observers import ActiveWindow, InputActivity, Screen

    from .screenshots import ScreenshotKeeper

    names = list(settings.observers if names is None else names)
    exclusions = Exclusions(settings.exclude_windows)
    out = []
    for name in names:
        if name == "screen":
            keeper = None
            if settings.keep_screenshots:
                keeper = ScreenshotKeeper(budget_bytes=settings.screenshot_budget_mb * 2**20,
                                          max_age_days=settings.screenshot_max_age_days)
            obs = Screen(exclusions=exclusions, keeper=keeper)
            obs.interval = obs.base_interval = float(settings.screen_interval_seconds)
            out.append(obs)
        elif name == "input":
            out.append(InputActivity(afk_after=float(settings.afk_after_seconds)))
        elif name == "window":
            out.append(ActiveWindow(exclusions=exclusions, queue="screen" not in names))
        else:
            out.append(_plugin_observer(name))
    return out


def _plugin_observer(name: str):
    from importlib.metadata import entry_points

    for ep in entry_points(group="gum.observers"):
        if ep.name == name:
            return ep.load()()
    known = ["screen", "input", "window"] + [ep.name for ep in entry_points(group="gum.observers")]
    raise ConfigError(f"unknown observer {name!r} in the observers setting; known: {', '.join(known)} "
                      "(or 'none')")


class Agent:
    """Runs observers, the engine and the API until stopped."""

    def __init__(self, settings: Settings | None = None, *, observers: list | None = None, model=None,
                 serve_api: bool = True):
        from gum.observers.activity import Activity

        self.settings = settings or load_settings()
        self.observers = list(observers) if observers is not None else build_observers(self.settings)
        self._model = model
        self.serve_api = serve_api
        self.redactor = Redactor(self.settings.redact_patterns)
        self.activity = Activity()
        self.started_at = utcnow()
        self.paused_until: datetime | None = None
        self._paused_forever = False
        self.busy = False
        self.last_error: str | None = None
        # Whether the last engine run got anything through the model (a load failure, a server that is down).
        self.model_health: dict = {"ok": True, "detail": ""}
        self._protection: str | None = None
        self.restarts: dict[str, int] = {}
        self._next_restart: dict[str, tuple[float, float]] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._store_local = threading.local()
        self._threads: list[threading.Thread] = []
        self.scheduler = None
        self.wakes = 0
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
        hits = 0
        for attr in ("text", "window", "app"):
            value, n = self.redactor.redact_counting(getattr(obs, attr) or "")
            setattr(obs, attr, value)
            hits += n
        meta = obs.meta
        if hits:
            meta["redactions"] = meta.get("redactions", 0) + hits
        engagement = meta.get("engagement")
        if engagement is not None:
            meta["engagement"] = {**engagement, "dwell_s": 0}
        store = self.store()
        obs_id, merged = store.add_observation(obs, merge_within=MERGE_WITHIN, enqueue=meta.get("queue", True))
        if merged and engagement is not None:
            _merge_engagement(store, obs_id, engagement)
        return obs_id

    def is_paused(self) -> bool:
        """True while observing is paused (until a time, or until resume())."""
        if self._paused_forever:
            return True
        until = self.paused_until
        if until and utcnow() < until:
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
        """Observe again now."""
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

    def process_due(self) -> bool:
        """True when the engine should run: a batch is waiting, or the oldest waiting observation is old enough."""
        store = self.store()
        row = store.db.execute(
            "SELECT COUNT(*), MIN(enqueued_at) FROM queue WHERE state = 'pending' AND attempts < ?",
            [self.settings.max_attempts],
        ).fetchone()
        pending, oldest = row[0], row[1]
        if not pending:
            return False
        if pending >= self.settings.batch_size:
            return True
        waited = (utcnow() - parse_ts(oldest)).total_seconds()
        return waited >= self.settings.batch_wait_minutes * 60

    def check_queue(self) -> None:
        """The scheduler's batch check: wake the engine when processing is due."""
        if self.process_due():
            self._wake.set()

    def process_queue(self) -> None:
        """Run the engine over what is queued (called by the engine thread)."""
        from .engine import Engine

        if self.store().queue_counts()["pending"] == 0:
            return
        self.busy = True
        try:
            engine = Engine.from_settings(self.store(), self.model, self.settings)
            summary = engine.run(should_stop=self._stop.is_set)
            if summary.errors:
                self.last_error = summary.errors[-1]
            if summary.failed and summary.observations == 0:
                # Nothing got through: the model is failing, not one odd observation.
                self.model_health = {"ok": False, "detail": summary.errors[-1]}
            else:
                self.model_health = {"ok": True, "detail": ""}
                if not summary.errors and self.last_error and self.last_error.startswith(("engine:", "observation #")):
                    self.last_error = None  # recovered: the status no longer reports it as current
        except Exception as exc:
            self.last_error = f"engine: {exc}"
            self.model_health = {"ok": False, "detail": self.last_error}
            log.exception("engine run failed")
        finally:
            self.busy = False

    def _engine_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            if not self._stop.is_set():
                self.process_queue()

    # -- periodic work ---------------------------------------------------------------------------------

    def check_health(self) -> None:
        """Restart observers that stopped producing (not those that cannot run here at all), with back-off."""
        now = time.monotonic()
        for obs in self.observers:
            try:
                h = obs.health()
            except Exception as exc:  # noqa: BLE001 - a broken health() is itself ill health
                h = {"ok": False, "detail": f"health check failed: {exc}"}
            if h.get("ok") or str(h.get("detail", "")).startswith("unsupported") or self.is_paused():
                continue
            due, backoff = self._next_restart.get(obs.name, (0.0, RESTART_BACKOFF_S[0]))
            if now < due:
                continue
            self._next_restart[obs.name] = (now + backoff, min(backoff * 2, RESTART_BACKOFF_S[1]))
            self.restarts[obs.name] = self.restarts.get(obs.name, 0) + 1
            message = f"observer {obs.name} stopped producing ({h.get('detail')}); restarting"
            log.warning(message)
            try:
                self.store().log_event("observer", message)
                obs.stop()
                obs.start()
            except Exception as exc:  # noqa: BLE001 - reported; retried after the back-off
                self.last_error = f"restarting {obs.name}: {exc}"

    def clean_up(self) -> dict:
        """Retention: kept screenshots older than the age limit or over the byte budget are deleted."""
        from .screenshots import ScreenshotKeeper

        keeper = ScreenshotKeeper(budget_bytes=self.settings.screenshot_budget_mb * 2**20,
                                  max_age_days=self.settings.screenshot_max_age_days)
        if not self.settings.keep_screenshots:
            keeper.budget_bytes = 0  # turned off: what was kept earlier goes too
        return keeper.clean()

    def consolidate(self) -> None:
        """Periodic upkeep: the engine's own consolidation when it has one, then index and planner upkeep."""
        from . import engine as engine_module

        if not self.busy:
            # Consolidation re-reads evidence; it needs no model, so none is loaded for it.
            engine_module.Engine.from_settings(self.store(), self._model, self.settings).consolidate()
        store = self.store()
        store.db.execute("INSERT INTO observations_fts(observations_fts) VALUES ('optimize')")
        store.db.execute("PRAGMA optimize")

    def on_wake(self, gap: float) -> None:
        """After the machine slept `gap` seconds: look again, process what waits, clean up."""
        self.wakes += 1
        self.store().log_event("wake", f"resumed after about {gap / 60:.0f} min asleep; catching up")
        for obs in self.observers:
            if hasattr(obs, "on_wake"):
                obs.on_wake()
        if self.store().queue_counts()["pending"]:
            self._wake.set()
        self.clean_up()

    def _job_error(self, name: str, exc: BaseException) -> None:
        for obs in self.observers:
            if name == f"tick:{obs.name}":
                obs.fail(f"tick failed: {exc.__class__.__name__}: {exc}")
                return
        self.last_error = f"{name}: {exc}"

    def _schedule(self) -> None:
        from .scheduler import Scheduler, WakeWatch

        s = Scheduler(on_error=self._job_error)
        for obs in self.observers:
            if getattr(obs, "interval", None):
                s.every(float(obs.interval), obs.tick, f"tick:{obs.name}", first_in=min(1.0, obs.interval))
        s.every(PROCESS_CHECK_S, self.check_queue, "process")
        s.every(HEALTH_CHECK_S, self.check_health, "health")
        s.every(RETENTION_S, self.clean_up, "retention", first_in=60)
        s.every(self.settings.consolidate_hours * 3600, self.consolidate, "consolidate")
        watch = WakeWatch(WAKE_CHECK_S)

        def wake_check():
            gap = watch.check()
            if gap is not None:
                self.on_wake(gap)

        s.every(WAKE_CHECK_S, wake_check, "wake-check")
        s.start()
        self.scheduler = s

    # -- status ----------------------------------------------------------------------------------------

    def protection(self) -> str:
        """Which at-rest protection is in force (keyring, key file, passphrase), read once."""
        if self._protection is None:
            try:
                from .keys import protection

                self._protection = protection().describe()
            except Exception as exc:  # noqa: BLE001 - reported, not raised
                self._protection = f"unknown ({exc})"
        return self._protection

    def status(self) -> dict:
        """What the agent is doing, truthfully: observers' health, queue, model, pause, last error."""
        store = self.store()
        observers = {}
        for obs in self.observers:
            try:
                h = dict(obs.health())
            except Exception as exc:  # noqa: BLE001 - reported, not raised
                h = {"ok": False, "detail": f"health check failed: {exc}"}
            if self.restarts.get(obs.name):
                h["restarts"] = self.restarts[obs.name]
            observers[obs.name] = h
        model_name = getattr(self._model, "name", None) or self.settings.model
        paused = self.is_paused()
        unhealthy = any(not h.get("ok") for h in observers.values()) or not self.model_health["ok"]
        state = "paused" if paused else ("error" if unhealthy else ("working" if self.busy else "observing"))
        return {
            "state": state,
            "paused": paused,
            "paused_until": iso(self.paused_until) if self.paused_until else None,
            "busy": self.busy,
            "model": model_name,
            "model_health": dict(self.model_health),
            "protection": self.protection(),
            "observers": observers,
            "queue": store.queue_counts(),
            "counts": store.counts(),
            "redactions": self.redactor.report(),
            "last_error": self.last_error,
            "started_at": iso(self.started_at),
        }

    # -- life cycle ------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start observers, the scheduler, the engine thread and (when serve_api) the local API."""
        # Open (and migrate) the database here, once, before observer threads open their own connections.
        self.store()
        token = os.environ.pop("GUM_TRAY_TOKEN", None)  # popped: child processes (tesseract) must not see it
        if token:
            try:
                from .api.tokens import register_tray_token
            except ImportError:
                log.warning("GUM_TRAY_TOKEN is set but this build has no local API tokens")
            else:
                try:
                    register_tray_token(self.store(), token)
                except GumError as exc:  # the agent still runs; the tray sees why it cannot connect
                    self.last_error = f"tray token not registered: {exc}"
                    log.error(self.last_error)
        for obs in self.observers:
            obs.attach(self.emit, paused=self.is_paused, activity=self.activity)
            try:
                obs.start()
            except Exception as exc:  # noqa: BLE001 - one observer failing must not stop the others
                obs.fail(f"could not start: {exc.__class__.__name__}: {exc}")
        t = threading.Thread(target=self._engine_loop, name="gum-engine", daemon=True)
        t.start()
        self._threads.append(t)
        self._schedule()
        if self.serve_api:
            try:
                from .api.server import ApiServer
            except ImportError:
                log.warning("the local API is not available in this build")
            else:
                self.api = ApiServer(self, port=self.settings.api_port)
                self.api.start()

    def stop(self) -> None:
        """Stop everything; observations already captured are stored, queued work waits for the next start."""
        self._stop.set()
        self._wake.set()
        if self.scheduler is not None:
            self.scheduler.shutdown()
            self.scheduler = None
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


def _merge_engagement(store: Store, obs_id: int, engagement: dict) -> None:
    """Add a heartbeat's input counts to the observation it extended, and its dwell (ts_end - ts)."""
    with store.transaction():
        row = store.db.execute("SELECT meta, ts, ts_end FROM observations WHERE id = ?", [obs_id]).fetchone()
        if row is None:
            return
        meta = json.loads(row[0] or "{}")
        total = meta.get("engagement", {})
        for k in ("keys", "clicks", "scrolls"):
            total[k] = total.get(k, 0) + int(engagement.get(k, 0))
        total["dwell_s"] = (parse_ts(row[2]) - parse_ts(row[1])).total_seconds()
        meta["engagement"] = total
        store.db.execute("UPDATE observations SET meta = ? WHERE id = ?", [json.dumps(meta), obs_id])


@click.command("start")
@click.option("--observers", default=None,
              help="Comma-separated observers to run (screen,input,window; 'none' for the API only).")
def start_command(observers: str | None) -> None:
    """Run the agent in the foreground: observe, learn, serve the local API (Ctrl-C stops it).

    The input observer counts key presses, clicks and scrolls; it never records which keys or what text.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # it logs every job run at INFO
    overrides = {}
    if observers is not None:
        overrides["observers"] = [] if observers.strip() == "none" else [
            p.strip() for p in observers.split(",") if p.strip()]
    agent = Agent(load_settings(**overrides))
    click.echo(f"gum agent started (observers: {', '.join(o.name for o in agent.observers) or 'none'}).", err=True)
    agent.run_forever()
    click.echo("gum agent stopped.", err=True)
