"""The observers on a real X display: Xvfb, xmessage windows with real text, mss, tesseract, pynput, xdotool."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import xdisplay
from helpers import wait_for

pytestmark = [
    pytest.mark.x11,
    pytest.mark.skipif(not xdisplay.available(), reason="needs Xvfb, xdotool, xmessage and tesseract"),
]


@pytest.fixture(scope="module")
def xd():
    d = xdisplay.XDisplay()
    yield d
    d.stop()


@pytest.fixture
def x(xd, monkeypatch):
    monkeypatch.setenv("DISPLAY", xd.name)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("XDG_SESSION_TYPE", raising=False)
    xd.xdotool("mousemove", "1900", "1060")  # park the pointer on the empty desktop
    yield xd
    xd.close_windows()


def agent_with(observers, **settings):
    from gum.agent import Agent
    from gum.config import load_settings

    agent = Agent(load_settings(**settings), observers=observers, serve_api=False)
    for obs in observers:
        obs.attach(agent.emit, paused=agent.is_paused, activity=agent.activity)
    return agent


def test_screen_reads_the_text_of_a_window_on_the_display(x):
    from gum.observers import Screen

    x.window("Quarterly revenue report for Acme", at=(200, 150))
    screen = Screen(min_gap=0)
    agent = agent_with([screen])
    emitted = screen.capture("test")
    stored = agent.store().observations(limit=5)
    assert len(emitted) == 1 and len(stored) == 1
    assert "revenue report" in stored[0].text.lower()
    assert stored[0].meta["trigger"] == "test"
    assert screen.health()["ok"]


def test_an_unchanged_screen_costs_no_ocr_and_extends_the_last_observation(x):
    from gum.observers import Screen

    x.window("Reading the design document", at=(300, 300))
    screen = Screen(min_gap=0)
    agent = agent_with([screen])
    screen.capture("first")
    time.sleep(1.1)
    screen.capture("again")
    assert screen.stats.ocr_runs == 1 and screen.stats.unchanged == 1
    [obs] = agent.store().observations(limit=5)
    assert obs.meta["repeats"] == 2
    assert obs.meta["engagement"]["dwell_s"] >= 1


def test_only_the_changed_region_is_read_after_a_new_window_appears(x):
    from gum.observers import Screen

    x.window("Inbox has twelve unread messages", at=(100, 100))
    screen = Screen(min_gap=0)
    agent_with([screen])
    screen.capture("first")
    x.window("Meeting with Priya at noon", at=(1200, 700))
    [obs] = screen.capture("click")
    [[_x, _y, w, h]] = obs.meta["regions"]
    assert w * h < 0.1 * 1920 * 1080, "a small change must not cost a whole-frame OCR"
    assert "priya" in obs.text.lower()
    assert "inbox" not in obs.text.lower()


def test_an_excluded_window_is_blanked_and_its_text_never_stored(x):
    from gum.observers import Screen

    from gum.privacy import Exclusions

    x.window("Visible notes about gardening", at=(100, 100))
    x.window("Vault entry bank PIN LIBRA", title="KeePassXC - Passwords.kdbx", at=(700, 100))
    x.window("Shopping list tomatoes", title="secret-project notes", at=(100, 500))
    screen = Screen(min_gap=0, exclusions=Exclusions(["secret-project*"]))
    agent = agent_with([screen])
    x.xdotool("mousemove", "1900", "1060")
    screen.monitors.clear()
    screen.capture("first")
    # Force a whole-monitor read: nothing is active, so the first capture reads everything that is shown.
    texts = " ".join(o.text for o in agent.store().observations(limit=10)).lower()
    assert "gardening" in texts
    assert "libra" not in texts and "vault" not in texts
    assert "tomatoes" not in texts, "GUM_EXCLUDE_WINDOWS patterns are excluded too"
    assert screen.stats.blanked >= 2


def test_nothing_is_captured_while_an_excluded_window_is_active(x):
    from gum.observers import Screen

    wid = x.window("Master password hint BLUEFISH", title="Bitwarden", at=(400, 400))
    x.xdotool("windowfocus", "--sync", str(wid))
    screen = Screen(min_gap=0)
    agent = agent_with([screen])
    assert screen.capture("click") == []
    assert agent.store().observations(limit=5) == []
    assert screen.stats.excluded == 1
    x.xdotool("windowfocus", "--sync", str(x.window("harmless", at=(50, 50))))


def test_planted_secrets_are_redacted_before_storage(x):
    from gum.observers import ActiveWindow, Screen

    wid = x.window("Card 4111 1111 1111 1111 expires 09/27", title="token ghp_abcdefghijklmnopqrstuvwxyz0123456789",
                   at=(200, 200))
    x.xdotool("windowfocus", "--sync", str(wid))
    screen, window = Screen(min_gap=0), ActiveWindow()
    agent = agent_with([screen, window])
    window.start()
    window.tick()
    screen.capture("click")
    stored = agent.store().observations(limit=10)
    everything = " ".join(o.text + " " + o.window for o in stored)
    assert "4111 1111" not in everything
    assert "ghp_abcdef" not in everything
    assert "[REDACTED:card]" in everything and "[REDACTED:api_key]" in everything
    report = agent.status()["redactions"]
    assert report["card"] >= 1 and report["api_key"] >= 1
    window.stop()


def test_input_observer_counts_real_events_and_never_records_keys(x):
    from gum.observers import InputActivity

    inp = InputActivity()
    agent = agent_with([inp])
    inp.start()
    try:
        assert inp.health()["ok"], inp.health()
        x.xdotool("mousemove", "500", "500", "click", "1", "click", "1", "click", "4", "click", "4", "click", "5")
        x.xdotool("type", "--delay", "20", "zebracrossing")
        assert wait_for(lambda: agent.activity.total["keys"] >= 13, timeout=5)
        assert agent.activity.total["clicks"] == 2
        assert agent.activity.total["scrolls"] == 3
        inp.tick()
    finally:
        inp.stop()
    [obs] = agent.store().observations(limit=5)
    assert "13 key presses" in obs.text and "2 clicks" in obs.text
    assert "zebra" not in obs.text.lower() and "zebra" not in str(obs.meta).lower()
    assert obs.meta["queue"] is False
    assert agent.store().queue_counts()["pending"] == 0, "input summaries are engagement data, not model input"


def test_active_window_title_is_read_back_without_a_window_manager(x):
    from gum.observers import ActiveWindow

    wid = x.window("budget", title="Budget 2025 - LibreOffice Calc", at=(300, 200))
    x.xdotool("windowfocus", "--sync", str(wid))
    window = ActiveWindow()
    agent = agent_with([window])
    window.start()
    window.tick()
    [obs] = agent.store().observations(limit=5)
    assert obs.window == "Budget 2025 - LibreOffice Calc"
    assert obs.app == "Xmessage"
    other = x.window("mail", title="Inbox - Thunderbird", at=(900, 600))
    x.xdotool("windowfocus", "--sync", str(other))
    window.tick()
    assert agent.store().observations(limit=1)[0].window == "Inbox - Thunderbird"
    assert agent.activity.window.title == "Inbox - Thunderbird"
    window.stop()


def test_a_click_triggers_a_capture_carrying_its_engagement(x):
    from gum.observers import ActiveWindow, InputActivity, Screen

    screen = Screen(min_gap=0.5, settle=0.3)
    agent = agent_with([screen, InputActivity(), ActiveWindow()])
    agent.start()
    try:
        time.sleep(1.5)
        before = screen.stats.triggers.get("click", 0)
        x.window("Flight to Lisbon on Friday", at=(600, 400))
        x.xdotool("mousemove", "650", "420", "click", "1")
        assert wait_for(lambda: screen.stats.triggers.get("click", 0) > before, timeout=8)
        assert wait_for(lambda: any("lisbon" in o.text.lower()
                                    for o in agent.store().observations(limit=10) if o.observer == "screen"),
                        timeout=10)
        obs = next(o for o in agent.store().observations(limit=10) if "lisbon" in o.text.lower())
        assert obs.meta["engagement"]["clicks"] >= 1
        assert agent.status()["state"] == "observing"
    finally:
        agent.stop()


def test_pause_is_honoured_within_a_second(x):
    from gum.observers import ActiveWindow, InputActivity, Screen

    screen = Screen(min_gap=0.3, settle=0.2)
    agent = agent_with([screen, InputActivity(), ActiveWindow()])
    agent.start()
    try:
        time.sleep(1.5)
        agent.pause(None)
        time.sleep(1.0)
        count = agent.store().counts()["observations"]
        x.window("Private diary entry about Sam", at=(500, 500))
        x.xdotool("mousemove", "520", "520", "click", "1", "type", "hello")
        time.sleep(3)
        assert agent.store().counts()["observations"] == count
        assert agent.status()["state"] == "paused"
        agent.resume()
        x.xdotool("click", "1")
        assert wait_for(lambda: agent.store().counts()["observations"] > count, timeout=10)
    finally:
        agent.stop()


def test_a_display_that_goes_away_is_reported_and_the_observer_restarted(x, monkeypatch):
    from gum.observers import Screen

    other = xdisplay.XDisplay(size="640x480x24")
    monkeypatch.setenv("DISPLAY", other.name)
    screen = Screen(min_gap=0)
    agent = agent_with([screen])
    agent.observers = [screen]
    screen.start()
    try:
        assert wait_for(lambda: screen.stats.triggers.get("start"), timeout=5)
        other.stop()
        time.sleep(0.3)
        screen.request("click")
        assert wait_for(lambda: not agent.status()["observers"]["screen"]["ok"], timeout=5)
        detail = agent.status()["observers"]["screen"]["detail"]
        assert "capture failed" in detail or "display" in detail
        assert agent.status()["state"] == "error"
        agent.check_health()
        assert agent.restarts["screen"] == 1
        h = agent.status()["observers"]["screen"]
        assert h["ok"] is False and h["restarts"] == 1 and "display unavailable" in h["detail"]
    finally:
        screen.stop()


def test_kept_screenshots_are_encrypted_and_readable_back(x):
    from gum.observers import Screen

    from gum.screenshots import ScreenshotKeeper

    x.window("Keep this frame", at=(100, 100))
    keeper = ScreenshotKeeper(budget_bytes=50 * 2**20, max_age_days=1)
    screen = Screen(min_gap=0, keeper=keeper)
    agent = agent_with([screen])
    [obs] = screen.capture("first")
    path = agent.store().get_observation(obs.id).image_path
    raw = Path(path).read_bytes()
    assert not raw.startswith(b"\x89PNG") and b"IHDR" not in raw[:64]
    image = ScreenshotKeeper.read(path)
    assert image.size == (1920, 1080)


def test_gum_start_runs_and_stops_cleanly_on_sigterm(x, tmp_path):
    import os
    import signal

    env = {**os.environ, "GUM_OBSERVERS": "screen,input,window", "GUM_API_PORT": str(20000 + os.getpid() % 20000)}
    log = tmp_path / "agent.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(["gum", "start"], env=env, stdout=subprocess.DEVNULL, stderr=out, text=True)
    try:
        # Signalled once it is running (a loaded machine can take seconds just to import).
        assert wait_for(lambda: "gum agent started" in log.read_text(), 60), log.read_text()[-2000:]
        time.sleep(2)
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    err = log.read_text()
    assert proc.returncode == 0, err[-2000:]
    assert "observers: screen, input, window" in err and "gum agent stopped" in err


def test_the_python_api_observes_counts_input_and_redacts_like_gum_start(x):
    import asyncio

    from gum import gum
    from gum.backends.scripted import ScriptedModel
    from gum.observers import ActiveWindow, InputActivity, Screen

    wid = x.window("Hotel in Lisbon booked for the conference", title="token ghp_abcdefghijklmnopqrstuvwxyz0123456789",
                   at=(200, 150))
    x.xdotool("windowfocus", "--sync", str(wid))
    inputs = InputActivity()
    inputs.interval = 1.0  # summarise every second instead of every minute
    window = ActiveWindow()
    model = ScriptedModel(default={"facts": [{"what": "Hotel in Lisbon", "relation": "booked", "who": "user"}]})

    async def session():
        async with gum("Priya", Screen(min_gap=0.5), inputs, window, model=model) as g:
            stored = lambda: g.store.observations(limit=20)  # noqa: E731
            await asyncio.to_thread(wait_for, lambda: any("Lisbon" in o.text for o in stored()), 30)
            x.xdotool("mousemove", "400", "170")
            x.xdotool("click", "1")
            x.xdotool("type", "--delay", "30", "notes")
            await asyncio.to_thread(wait_for, lambda: any(o.observer == "input" for o in stored()), 15)
            polled = lambda: g.status()["observers"]["window"]["detail"] != "waiting for the first poll"  # noqa: E731
            await asyncio.to_thread(wait_for, polled, 15)
            return stored(), g.status()

    observations, status = asyncio.run(session())
    screen_text = " ".join(o.text for o in observations if o.observer.startswith("screen"))
    assert "Lisbon" in screen_text, "the screen was captured and read"
    everything = " ".join(f"{o.text} {o.window}" for o in observations)
    assert "ghp_abcdef" not in everything and "[REDACTED:api_key]" in everything, "redacted before it was stored"
    summary = next(o for o in observations if o.observer == "input")
    assert summary.meta["input"]["keys"] >= 5 and summary.meta["input"]["clicks"] >= 1, "input was counted"
    assert status["observers"]["window"]["detail"] != "waiting for the first poll", "the window observer is ticked"
    assert status["intake"]["captures"] >= 2 and status["state"] in ("observing", "working")
