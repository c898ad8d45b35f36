"""The agent: storage of what observers emit, engagement, the batch trigger, pause, health, settings."""

from __future__ import annotations

import time

import pytest
from gum.observers import Observer

from gum.agent import Agent, build_observers
from gum.config import load_settings
from gum.records import Observation


def make_agent(observers=(), **settings):
    return Agent(load_settings(**settings), observers=list(observers), serve_api=False)


def window_obs(**engagement):
    return Observation(observer="window", app="Code", window="gum - agent.py", text="Active window: gum",
                       meta={"engagement": {"keys": 0, "clicks": 0, "scrolls": 0, **engagement}})


def test_heartbeats_add_up_engagement_and_dwell_on_one_observation():
    from datetime import timedelta

    agent = make_agent()
    first = window_obs()
    oid = agent.emit(first)
    later = window_obs(keys=40, clicks=2)
    later.ts = first.ts + timedelta(seconds=30)
    assert agent.emit(later) == oid
    last = window_obs(keys=5, scrolls=3)
    last.ts = first.ts + timedelta(seconds=60)
    agent.emit(last)
    stored = agent.store().get_observation(oid)
    assert stored.meta["engagement"] == {"keys": 45, "clicks": 2, "scrolls": 3, "dwell_s": 60.0}
    assert stored.meta["repeats"] == 3


def test_observations_marked_queue_false_are_stored_but_never_sent_to_the_model():
    agent = make_agent()
    oid = agent.emit(Observation(observer="input", text="Input activity: 12 key presses", meta={"queue": False}))
    assert agent.store().get_observation(oid).meta["queue"] is False
    assert agent.store().queue_counts()["pending"] == 0
    agent.emit(Observation(observer="screen", text="Flight booking to Lisbon"))
    assert agent.store().queue_counts()["pending"] == 0, "an activity is queued when it ends, not per capture"
    agent.intake.close_all()
    assert agent.store().queue_counts()["pending"] == 1


def test_nothing_is_stored_while_paused_and_a_timed_pause_ends_by_itself():
    agent = make_agent()
    agent.pause(None)
    assert agent.emit(Observation(observer="screen", text="a private moment")) is None
    assert agent.status()["state"] == "paused"
    agent.resume()
    agent.pause(0.5)
    assert agent.is_paused() and agent.status()["paused_until"]
    time.sleep(1.1)
    assert not agent.is_paused()
    assert agent.emit(Observation(observer="screen", text="back at work")) is not None
    assert agent.store().counts()["observations"] == 1


def test_the_engine_runs_as_soon_as_an_activity_waits_unless_the_active_user_has_had_the_calls_earned_so_far():
    agent = make_agent(model_calls_per_hour=2)
    assert not agent.process_due()
    agent.emit(Observation(observer="screen", app="Mail", text="Flight booking to Lisbon on Friday"))
    agent.intake.close_all()
    assert agent.process_due()
    agent.pace.spend(1, active=True)
    assert agent.process_due(), "the budget binds only while the user is at the computer"
    agent.activity.record("keys")
    assert not agent.process_due() and agent.waiting_for == "budget"
    status = agent.status()
    assert status["queue"]["pending"] == 1 and status["queue"]["waiting_for"] == "budget"
    assert status["queue"]["eta_seconds"] > 0
    assert 1700 < status["engine"]["next_call_in_s"] <= 1800, "two calls an hour: the next one is earned in 30 min"
    unlimited = make_agent(model_calls_per_hour=0, model_cpu_minutes_per_hour=0)
    unlimited.pace.spend(100, active=True)
    unlimited.activity.record("keys")
    unlimited.emit(Observation(observer="screen", app="Mail", text="Flight booking to Lisbon on Friday"))
    unlimited.intake.close_all()
    assert unlimited.process_due()


def test_while_the_user_is_active_a_call_also_waits_for_the_cpu_it_is_expected_to_take():
    agent = make_agent(model_calls_per_hour=0, model_cpu_minutes_per_hour=6)
    agent.emit(Observation(observer="screen", app="Mail", text="Flight booking to Lisbon on Friday"))
    agent.intake.close_all()
    agent.activity.record("keys")
    assert not agent.process_due() and agent.waiting_for == "budget", "no CPU earned yet"
    assert 110 < agent.status()["engine"]["next_call_in_s"] <= 120, "12 CPU-s at 6 CPU-min an hour: 2 minutes"
    agent._active_call_cpu.extend([30.0] * 10)  # the last calls cost 30 CPU-s each
    assert 290 < agent.next_call_in() <= 300


def test_the_old_per_capture_intake_still_waits_for_a_batch_or_the_oldest_to_wait_long_enough():
    agent = make_agent(intake="captures", batch_size=3, batch_wait_minutes=10)
    assert not agent.process_due()
    agent.emit(Observation(observer="screen", text="one"))
    assert not agent.process_due(), "one fresh observation waits for company"
    agent.emit(Observation(observer="screen", text="two"))
    agent.emit(Observation(observer="screen", text="three"))
    assert agent.process_due()
    patient = make_agent(intake="captures", batch_size=50, batch_wait_minutes=0)
    patient.emit(Observation(observer="screen", text="alone"))
    assert patient.process_due()


def test_observers_come_from_the_setting_with_none_meaning_an_api_only_agent(monkeypatch):
    from gum.errors import ConfigError

    monkeypatch.setenv("GUM_OBSERVERS", "none")
    assert Agent(serve_api=False).observers == []
    monkeypatch.setenv("GUM_OBSERVERS", "screen,input,window")
    monkeypatch.setenv("GUM_EXCLUDE_WINDOWS", "Payroll*, Therapy notes")
    names = [o.name for o in Agent(serve_api=False).observers]
    assert names == ["screen", "input", "window"]
    obs = build_observers(load_settings())
    assert obs[2].queue is False, "with the screen observer running, window observations are evidence only"
    assert obs[0].exclusions.matches("", "Payroll March") and obs[2].exclusions.matches("", "Therapy notes 3")
    assert build_observers(load_settings(), ["window"])[0].queue is True
    with pytest.raises(ConfigError, match="unknown observer 'calender'"):
        build_observers(load_settings(), ["calender"])


class Flaky(Observer):
    name = "flaky"

    def __init__(self, detail="display gone"):
        super().__init__()
        self.starts = 0
        self.detail = detail

    def start(self):
        self.starts += 1
        if self.starts == 1:
            self.fail(self.detail)
        else:
            self.ok("back")


def test_an_observer_that_stops_producing_is_reported_then_restarted_with_back_off():
    flaky = Flaky()
    agent = make_agent([flaky])
    flaky.attach(agent.emit, paused=agent.is_paused)
    flaky.start()
    status = agent.status()
    assert status["state"] == "error"
    assert status["observers"]["flaky"] == {"ok": False, "detail": "display gone"}
    agent.check_health()
    assert flaky.starts == 2 and agent.status()["observers"]["flaky"]["ok"]
    flaky.fail("again")
    agent.check_health()
    assert flaky.starts == 2, "the next restart waits for the back-off"
    assert "stopped producing" in agent.store().recent_events(1)[0]["message"]


def test_an_unsupported_observer_is_reported_but_not_restarted_forever():
    flaky = Flaky(detail="unsupported: Wayland session")
    agent = make_agent([flaky])
    flaky.start()
    agent.check_health()
    assert flaky.starts == 1
    assert agent.status()["observers"]["flaky"]["detail"].startswith("unsupported")


def test_an_interval_observer_that_stops_ticking_is_unhealthy():
    class Poller(Observer):
        name = "poller"
        interval = 1.0

    p = Poller()
    p.ok("polled")
    p._last_ok = time.monotonic() - 100
    assert p.health() == {"ok": False, "detail": "no successful tick for 100 s (expected every 1 s)"}


def test_waking_from_sleep_looks_again_and_wakes_the_engine():
    class Watcher(Observer):
        name = "watcher"
        woke = 0

        def on_wake(self):
            self.woke += 1

    w = Watcher()
    agent = make_agent([w])
    agent.emit(Observation(observer="screen", text="before sleep"))
    agent.intake.close_all()
    agent.on_wake(3600)
    assert w.woke == 1 and agent._wake.is_set()
    assert "asleep" in agent.store().recent_events(1)[0]["message"]


def test_the_scheduler_ticks_observers_and_stops_cleanly():
    class Poller(Observer):
        name = "poller"
        interval = 0.2
        ticks = 0

        def tick(self):
            self.ticks += 1
            self.ok()

    p = Poller()
    agent = make_agent([p])
    agent.start()
    try:
        time.sleep(1.2)
        assert p.ticks >= 3
        assert agent.status()["observers"]["poller"]["ok"]
    finally:
        agent.stop()
    ticks = p.ticks
    time.sleep(0.5)
    assert p.ticks == ticks


def test_the_tray_token_handed_over_on_a_pipe_is_registered_and_never_in_the_environment(monkeypatch):
    import os

    tokens = pytest.importorskip("gum.api.tokens")
    read_end, write_end = os.pipe()
    os.write(write_end, b"t" * 40 + b"\n")
    os.close(write_end)
    monkeypatch.setenv("GUM_TRAY_TOKEN_FD", str(read_end))
    agent = make_agent()
    agent.start()
    try:
        assert "GUM_TRAY_TOKEN_FD" not in os.environ
        assert not any("t" * 40 in v for v in os.environ.values())
        names = [t.name for t in tokens.list_tokens(agent.store()) if not t.revoked]
        assert "tray" in names
        assert tokens.verify(agent.store(), "t" * 40).name == "tray"
    finally:
        agent.stop()


def test_a_failing_model_makes_the_state_error_and_recovery_clears_it(tmp_path, scripted_model):
    from gum.agent import Agent
    from gum.config import Settings
    from gum.records import Observation

    good = {"facts": [{"what": "Budget 2026.xlsx", "relation": "works on", "who": "user"}]}
    model = scripted_model
    model.enqueue("broken", "broken", "broken")
    agent = Agent(Settings(observers=[], max_attempts=1, model="scripted"), observers=[], serve_api=False)
    agent.emit(Observation("screen", "Budget 2026.xlsx - LibreOffice Calc", app="Calc"))
    agent.intake.close_all()
    agent.process_queue()
    status = agent.status()
    assert status["state"] == "error" and not status["model_health"]["ok"]
    assert status["last_error"]
    model.enqueue(good)
    agent.emit(Observation("screen", "Budget 2026.xlsx - Q3 column", app="Calc"))
    agent.intake.close_all()
    agent.process_queue()
    status = agent.status()
    assert status["state"] != "error" and status["model_health"]["ok"]
    assert status["last_error"] is None
    assert "key" in status["protection"].lower() or "keyring" in status["protection"].lower()
