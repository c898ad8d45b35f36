"""The agent: observers + engine + local API in one headless process (`gum start`).

Observations are stored the moment they are captured (redacted first); the engine works through the queue
in its own thread, so the model never blocks capture. The tray app and plugins talk to a running agent only
through the local API (gum/api/), which calls the methods below.

Every observation goes through gum/intake.py (redaction, exclusions, pause, activity segments), the same
way in as `gum ingest` and the Python API.

APScheduler (gum/scheduler.py) runs the periodic work: observer ticks (the screen's slow timer, the window
poll, the input summary), closing segments whose time is up, the queue check, health checks that restart an
observer which stopped producing, retention of kept screenshots, a periodic consolidation, and a wake-gap
check that catches up after sleep.

The model is a good desktop citizen: its thread runs at low priority, on `active_threads` threads while the
user is active and on all cores when they are idle or away, and while they are active it makes at most
`model_calls_per_hour` calls an hour, paced evenly through the hour (gum/pacing.py), and spends at most
`model_cpu_minutes_per_hour` of the model's CPU (a call waits until its expected CPU is earned), most engaged
activities first. Nothing is dropped: what waits, waits in the durable queue, and the status says how much
and for how long.

Status is truthful: `status()` reports each observer's health, whether the model is busy, the queue, the
last error, redaction counts and whether observing is paused.

Engagement: screen and window observations carry meta["engagement"] = {keys, clicks, scrolls, dwell_s}:
the input counts while they were current, summed over heartbeat merges, and the span they stayed on
screen. Observations with meta["queue"] = False (input summaries; window observations while the screen
observer runs) are stored as evidence but not queued for the model.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections import deque
from datetime import datetime, timedelta

import click

from .config import Settings, load_settings
from .errors import ConfigError, GumError
from .pacing import Pace
from .privacy import Exclusions, Redactor, remote_model
from .records import Observation, iso, utcnow
from .store import Store

log = logging.getLogger("gum.agent")

PROCESS_CHECK_S = 15.0
SEGMENT_CHECK_S = 10.0
ACTIVE_WITHIN_S = 120.0  # input this recent: the user is at the computer, the model keeps to its budget
ENGINE_NICE = 10
# A propose call on one thread beside a working desktop (tests/bench/bench_desk.py: 11.7-13.8 CPU-s).
ACTIVE_CALL_CPU_S = 12.0
CPU_BURST_S = 30.0
HEALTH_CHECK_S = 5.0
WAKE_CHECK_S = 10.0
RETENTION_S = 3600.0
RESTART_BACKOFF_S = (10.0, 600.0)  # first retry after 10 s, doubling up to 10 minutes


def build_observers(settings: Settings, names: list[str] | None = None) -> list:
    """The observers named in settings, built by the plugins that registered them (gum's own included)."""
    from .plugins import ObserverContext, observer_factories, plugin_options

    names = list(settings.observers if names is None else names)
    exclusions = Exclusions(settings.exclude_windows)
    factories = observer_factories(settings)
    out = []
    for name in names:
        if name not in factories:
            raise ConfigError(f"unknown observer {name!r} in the observers setting; known: "
                              f"{', '.join(factories)} (or 'none'; `gum plugins` lists what is installed)")
        factory, plugin = factories[name]
        options = plugin_options(settings, name) or plugin_options(settings, plugin)
        obs = factory(ObserverContext(name, settings, options, exclusions, names))
        obs.gum_plugin = plugin
        out.append(obs)
    return out


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
        from .intake import Intake

        self.intake = Intake(self.store, redactor=self.redactor, exclusions=Exclusions(self.settings.exclude_windows),
                             paused=self.is_paused, mode=self.settings.intake, on_evidence=self._refresh)
        # Model work for the status: (monotonic time, calls) per processed observation; the budget is the pace.
        self._calls: deque = deque()
        self.pace = Pace(self.settings.model_calls_per_hour)
        # The model's CPU while the user is active, in CPU-seconds: starts empty (nothing earned yet), holds at
        # most one long call's worth; a call waits until its expected cost (ACTIVE_CALL_CPU_S until measured:
        # the mean of the last active calls) is earned.
        self.cpu_pace = Pace(self.settings.model_cpu_minutes_per_hour * 60, burst=CPU_BURST_S, start=0.0)
        self._active_call_cpu: deque = deque([ACTIVE_CALL_CPU_S], maxlen=10)
        self.engine_stats = {"calls": 0, "model_seconds": 0.0, "cpu_seconds": 0.0, "processed": 0}
        self.waiting_for: str | None = None  # why queued work is not being done now: "budget"
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
            store = Store(user_name=self.settings.user_name)
            self._store_local.store = store
        return store

    # -- observing -------------------------------------------------------------------------------------

    def emit(self, obs: Observation) -> int | None:
        """Store an observation from an observer, through the intake (paused: dropped; redacted; segmented)."""
        return self.intake.add(obs)

    def _refresh(self, proposition_ids: list[int]) -> None:
        """Recompute confidence after a repeat added evidence (no model needed)."""
        from .engine import Engine

        engine = Engine.from_settings(self.store(), self._model, self.settings)
        with self.store().transaction():
            for pid in proposition_ids:
                engine.refresh_confidence(pid)

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
        # The timeline shows the pause as not recorded (extended by intake.due while it lasts).
        self.intake.note_unrecorded("paused", utcnow(), join=self.is_paused())
        if seconds is None:
            self._paused_forever = True
        else:
            self.paused_until = utcnow() + timedelta(seconds=seconds)
        for obs in self.observers:
            if hasattr(obs, "on_pause"):
                obs.on_pause()

    def resume(self) -> None:
        """Observe again now."""
        if self.is_paused():
            self.intake.note_unrecorded("paused", utcnow())  # the pause lasted until now
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

    def user_active(self) -> bool:
        """Whether the user is at the computer now (input within the last two minutes)."""
        idle = self.activity.idle_seconds()
        return idle is not None and idle < ACTIVE_WITHIN_S

    def calls_last_hour(self) -> int:
        cutoff = time.monotonic() - 3600
        while self._calls and self._calls[0][0] < cutoff:
            self._calls.popleft()
        return sum(n for _, n in self._calls)

    def call_cpu(self) -> float:
        """The CPU-seconds a call is expected to take while the user is active."""
        return sum(self._active_call_cpu) / len(self._active_call_cpu)

    def over_budget(self) -> bool:
        """True while the user is active and the model has not yet earned its next call, or its CPU."""
        return self.user_active() and not (self.pace.allows() and self.cpu_pace.allows(self.call_cpu()))

    def next_call_in(self) -> float:
        """Seconds until the budget allows a call while the user stays active."""
        return max(self.pace.wait_seconds(), self.cpu_pace.wait_seconds(self.call_cpu()))

    def process_due(self) -> bool:
        """True when the engine should run now: something waits and the budget allows it. (With the old
        per-capture intake: when a batch waits or the oldest has waited batch_wait_minutes.)"""
        pending, oldest = self.store().queue_due(self.settings.max_attempts)
        if not pending:
            self.waiting_for = None
            return False
        if self.over_budget():
            self.waiting_for = "budget"
            return False
        self.waiting_for = None
        if self.settings.intake == "segments":
            return True
        if pending >= self.settings.batch_size:
            return True
        return (utcnow() - oldest).total_seconds() >= self.settings.batch_wait_minutes * 60

    def eta_seconds(self, pending: int) -> float:
        """How long the waiting work takes at the model's recent pace (seconds per processed observation)."""
        st = self.engine_stats
        per = st["model_seconds"] / st["processed"] if st["processed"] else self.store().get_state("pace", 10.0)
        return round(pending * per, 1)

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
        seen = {"calls": 0, "model_seconds": 0.0, "cpu_seconds": 0.0, "processed": 0}

        def progress(done, total, obs, summary):
            # Account for each observation as it is done: the budget must see calls as they happen.
            u = summary.usage
            now = {"calls": u.calls, "model_seconds": u.seconds, "cpu_seconds": u.cpu_seconds, "processed": done}
            delta = {k: now[k] - seen[k] for k in now}
            seen.update(now)
            for k, v in delta.items():
                self.engine_stats[k] += v
            if delta["calls"]:
                self._calls.append((time.monotonic(), delta["calls"]))
                active = self.user_active()
                self.pace.spend(delta["calls"], active=active)
                self.cpu_pace.spend(delta["cpu_seconds"], active=active)
                if active and delta["cpu_seconds"] > 0:
                    self._active_call_cpu.append(delta["cpu_seconds"] / delta["calls"])
            st = self.engine_stats
            if st["processed"]:
                self.store().set_state("pace", round(st["model_seconds"] / st["processed"], 2))
            self._set_threads()

        def should_stop() -> bool:
            if self._stop.is_set():
                return True
            if self.over_budget():
                self.waiting_for = "budget"
                return True
            return False

        try:
            self._set_threads()
            engine = Engine.from_settings(self.store(), self.model, self.settings)
            summary = engine.run(should_stop=should_stop, progress=progress)
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

    def _set_threads(self) -> None:
        """Fewer model threads while the user is active, all cores while they are idle or away."""
        setter = getattr(self._model, "set_threads", None)
        if setter is None:
            return
        active = self.user_active()
        setter(self.settings.active_threads if active else self.settings.threads)

    def _engine_loop(self) -> None:
        try:
            # Below the user's priority: this thread and the llama.cpp threads it starts (they inherit it).
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), ENGINE_NICE)
        except (AttributeError, OSError):  # not Linux, or not allowed: run at normal priority
            log.debug("could not lower the engine thread's priority", exc_info=True)
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
            except Exception as exc:
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
            except Exception as exc:
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
        self.store().optimize()
        self.store().forget_lines(utcnow() - timedelta(days=30))

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
        s.every(SEGMENT_CHECK_S, self.intake.due, "segments")
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
            except Exception as exc:
                self._protection = f"unknown ({exc})"
        return self._protection

    def status(self) -> dict:
        """What the agent is doing, truthfully: observers' health, queue, model, pause, last error."""
        store = self.store()
        observers = {}
        for obs in self.observers:
            try:
                h = dict(obs.health())
            except Exception as exc:
                h = {"ok": False, "detail": f"health check failed: {exc}"}
            if self.restarts.get(obs.name):
                h["restarts"] = self.restarts[obs.name]
            observers[obs.name] = h
        model_name = getattr(self._model, "name", None) or self.settings.model
        paused = self.is_paused()
        unhealthy = any(not h.get("ok") for h in observers.values()) or not self.model_health["ok"]
        # "observing" only while some observer really runs (not with GUM_OBSERVERS=none, not when every
        # observer is unsupported here).
        running = any(h.get("ok") for h in observers.values())
        state = "paused" if paused else ("error" if unhealthy else (
            "working" if self.busy else ("observing" if running else "idle")))
        queue = store.queue_counts()
        queue["eta_seconds"] = self.eta_seconds(queue["pending"])
        queue["waiting_for"] = self.waiting_for if queue["pending"] else None
        return {
            "state": state,
            "paused": paused,
            "paused_until": iso(self.paused_until) if self.paused_until else None,
            "busy": self.busy,
            "model": model_name,
            "model_health": dict(self.model_health),
            # Observations leave this machine: shown by `gum status` and the tray (set only from the CLI).
            "model_remote": remote_model(str(self.settings.model)),
            "protection": self.protection(),
            "observers": observers,
            "queue": queue,
            "counts": store.counts(),
            "intake": {"mode": self.intake.mode, **self.intake.stats()},
            "engine": {**{k: round(v, 1) if isinstance(v, float) else v for k, v in self.engine_stats.items()},
                       "calls_last_hour": self.calls_last_hour(), "budget_per_hour": self.settings.model_calls_per_hour,
                       "cpu_budget_min_per_hour": self.settings.model_cpu_minutes_per_hour,
                       "next_call_in_s": round(self.next_call_in(), 1) if self.user_active() else 0.0,
                       "user_active": self.user_active()},
            "redactions": self.redactor.report(),
            "last_error": self.last_error,
            "started_at": iso(self.started_at),
        }

    # -- life cycle ------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start observers, the scheduler, the engine thread and (when serve_api) the local API."""
        # Open (and migrate) the database here, once, before observer threads open their own connections.
        self.store()
        recovered = self.intake.recover()
        if recovered:
            log.info("closed %d activity segments a previous run left open", recovered)
        # The tray's token comes through a pipe (or a 0600 file), never the environment: /proc/PID/environ
        # keeps what os.environ.pop removes (gum/handoff.py).
        try:
            from .handoff import tray_token

            token = tray_token()
        except GumError as exc:
            token, self.last_error = None, f"tray token not received: {exc}"
            log.error(self.last_error)
        if token:
            try:
                from .api.tokens import register_tray_token
            except ImportError:
                log.warning("a tray token was handed over but this build has no local API tokens")
            else:
                try:
                    register_tray_token(self.store(), token)
                except GumError as exc:  # the agent still runs; the tray sees why it cannot connect
                    self.last_error = f"tray token not registered: {exc}"
                    log.error(self.last_error)
        for obs in self.observers:
            obs.attach(self._emit_for(obs), paused=self.is_paused, activity=self.activity)
            try:
                obs.start()
            except Exception as exc:
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

    def _emit_for(self, obs):
        """gum's own observers skip excluded windows before they capture; a plugin's observations are
        screened here as well, so the exclusions hold whatever the plugin does (redaction and pause are
        emit's own)."""
        if getattr(obs, "gum_plugin", "gum.default_plugins.observers") == "gum.default_plugins.observers":
            return self.emit
        exclusions = Exclusions(self.settings.exclude_windows)

        def emit(o: Observation) -> int | None:
            return None if exclusions.matches(o.app, o.window) else self.emit(o)

        return emit

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
        try:
            if self.is_paused():
                self.intake.note_unrecorded("paused", utcnow())
            self.intake.close_all("stop")
        except Exception:
            log.exception("closing activity segments")
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
