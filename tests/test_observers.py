"""Observer logic without a display: change detection, region choice, triggers, exclusions, activity, timing."""

from __future__ import annotations

import time

import numpy as np
import pytest
from gum.observers.activity import Activity, WindowInfo
from gum.observers.screen import BLOCK, Region, Screen, changed_region, choose_regions, thumbnail

from gum.privacy import Exclusions, Redactor


def frame(h=1080, w=1920, value=0):
    return np.full((h, w), value, dtype=np.uint8)


def test_identical_frames_show_no_change_and_a_typed_word_is_boxed():
    a = frame()
    assert changed_region(thumbnail(a), thumbnail(a.copy())) is None
    b = a.copy()
    b[500:512, 300:340] = 255  # a word-sized blot of new text
    r = changed_region(thumbnail(a), thumbnail(b))
    assert r is not None
    assert r.x <= 300 and r.x + r.w >= 340 and r.y <= 500 and r.y + r.h >= 512
    assert r.w <= 40 + 2 * BLOCK and r.h <= 12 + 2 * BLOCK


def test_a_single_changed_pixel_row_of_faint_noise_is_ignored():
    a = frame(value=100)
    b = a.copy()
    b[10, :] = 101  # sub-threshold flicker
    assert changed_region(thumbnail(a), thumbnail(b)) is None


def test_a_small_change_is_read_across_the_width_of_its_window_only():
    monitor = Region(0, 0, 1920, 1080)
    editor = Region(100, 100, 800, 600)
    [r] = choose_regions(Region(400, 300, 40, 16), monitor, [editor], editor, first=False)
    assert (r.x, r.w) == (100, 800), "whole lines of the window"
    assert r.h <= 16 + 2 * 16 and r.y >= 100


def test_a_big_change_reads_the_active_window_or_each_window_once():
    monitor = Region(0, 0, 1920, 1080)
    big = Region(0, 0, 1920, 1000)
    a, b, inner = Region(0, 0, 900, 900), Region(1000, 0, 900, 900), Region(10, 10, 100, 100)
    assert choose_regions(big, monitor, [a, b], b, first=False) == [b]
    regions = choose_regions(big, monitor, [a, inner, b], None, first=True)
    assert b in regions and a in regions
    assert len(regions) == 3 or inner not in regions
    assert choose_regions(big, monitor, [], None, first=True) == [monitor]


def test_exclusions_cover_password_managers_private_windows_lock_screens_and_user_patterns():
    ex = Exclusions(["*secret-project*", "Payroll"])
    assert ex.matches("KeePassXC", "Passwords.kdbx")
    assert ex.matches("firefox", "Bank - Mozilla Firefox Private Browsing")
    assert ex.matches("Google-chrome", "New Tab - Google Chrome (Incognito)")
    assert ex.matches("i3lock", "")
    assert ex.matches("code", "notes for SECRET-PROJECT launch")
    assert ex.matches("", "Payroll 2025.xlsx")
    assert not ex.matches("firefox", "Recipes - Mozilla Firefox")


def test_a_bad_redaction_pattern_is_a_clear_config_error_and_redactions_are_counted():
    from gum.errors import ConfigError

    with pytest.raises(ConfigError, match="redact_patterns"):
        Redactor(["(unclosed"])
    r = Redactor([r"PROJ-\d{4}"])
    text, n = r.redact_counting("ticket PROJ-1234 and card 4111 1111 1111 1111")
    assert n == 2 and "PROJ-1234" not in text
    assert r.report() == {"total": 2, "custom": 1, "card": 1}


class FakeClock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_activity_counts_kinds_per_consumer_and_bursts():
    clock = FakeClock()
    a = Activity(clock=clock)
    for _ in range(5):
        a.record("keys")
        clock.t += 0.2
    clock.t += 10
    a.record("clicks")
    assert a.take("screen") == {"keys": 5, "clicks": 1, "scrolls": 0, "moves": 0}
    assert a.take("screen") == {"keys": 0, "clicks": 0, "scrolls": 0, "moves": 0}
    assert a.take("window")["keys"] == 5, "each consumer has its own mark"
    assert a.bursts == 2
    assert a.active_seconds == pytest.approx(0.8)
    clock.t += 200
    assert a.afk()


def test_captures_follow_clicks_typing_pauses_scroll_stops_and_switches_debounced():
    clock = FakeClock()
    screen = Screen(min_gap=2.0, settle=0.5, typing_pause=1.5, scroll_pause=0.8)
    screen.activity = Activity(clock=clock)
    screen._last_capture = clock.t
    assert screen.due(clock.t + 5) is None, "no activity, no capture"
    clock.t += 3
    screen.activity.record("clicks")
    assert screen.due(clock.t + 0.1) is None, "waits for the UI to settle"
    assert screen.due(clock.t + 0.6) == "click"
    screen._last_capture = clock.t + 0.6
    clock.t += 1
    screen.activity.record("keys")
    assert screen.due(clock.t + 1.0) is None, "debounced: within min_gap of the last capture"
    assert screen.due(clock.t + 1.6) == "typing"
    screen._last_capture = clock.t + 1.6
    clock.t += 3
    screen.activity.record("scrolls")
    assert screen.due(clock.t + 0.5) is None and screen.due(clock.t + 0.9) == "scroll"
    screen._last_capture = clock.t + 0.9
    clock.t += 3
    screen.activity.set_window(WindowInfo(app="Firefox", title="Docs"))
    assert screen.due(clock.t + 0.6) == "switch"


def test_the_slow_timer_backs_off_while_nothing_changes():
    screen = Screen()
    screen._last_capture = time.monotonic() - 11
    screen.tick()
    assert screen._requested == "timer"
    screen._requested = None
    screen._timer_interval = 80
    screen.tick()
    assert screen._requested is None


def test_wake_watch_reports_a_clock_jump_only():
    from gum.scheduler import WakeWatch

    clock = FakeClock()
    w = WakeWatch(10, tolerance=30, clock=clock)
    clock.t += 10.5
    assert w.check() is None
    clock.t += 3600
    assert w.check() == pytest.approx(3590)
    clock.t += 10
    assert w.check() is None


def test_scheduler_runs_jobs_and_reports_a_failing_one():
    from gum.scheduler import Scheduler

    errors, runs = [], []
    s = Scheduler(on_error=lambda name, exc: errors.append((name, str(exc))))
    s.every(0.2, lambda: runs.append(1), "ok", first_in=0.05)
    s.every(0.2, lambda: 1 / 0, "broken", first_in=0.05)
    s.start()
    try:
        deadline = time.monotonic() + 5
        while (not runs or not errors) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        s.shutdown()
    assert runs and errors[0][0] == "broken" and "division" in errors[0][1]


def test_kept_screenshots_are_removed_by_age_then_by_budget(tmp_path):
    import os

    from PIL import Image

    from gum.screenshots import ScreenshotKeeper

    keeper = ScreenshotKeeper(tmp_path / "shots", budget_bytes=10**9, max_age_days=1)
    paths = [keeper.save(Image.new("RGB", (64, 64), (i * 40, 0, 0))) for i in range(4)]
    now = time.time()
    os.utime(paths[0], (now - 3 * 86400, now - 3 * 86400))
    for i, p in enumerate(paths[1:], start=1):
        os.utime(p, (now - 100 + i, now - 100 + i))
    result = keeper.clean(now)
    assert result["removed"] == 1 and not os.path.exists(paths[0])
    size = os.path.getsize(paths[3])
    keeper.budget_bytes = size + 1
    keeper.clean(now)
    assert [os.path.exists(p) for p in paths] == [False, False, False, True], "oldest go first"
    assert ScreenshotKeeper.read(paths[3]).size == (64, 64)


def test_unsupported_desktops_say_why(monkeypatch):
    from gum.observers import ActiveWindow
    from gum.observers.desktop import open_desktop

    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    d = open_desktop()
    assert not d.supported and "Wayland" in d.reason
    monkeypatch.delenv("WAYLAND_DISPLAY")
    monkeypatch.delenv("XDG_SESSION_TYPE", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    w = ActiveWindow()
    w.start()
    h = w.health()
    assert h == {"ok": False, "detail": "unsupported: no X display (DISPLAY is not set)"}


def test_a_user_observer_is_one_small_class():
    from gum.observers import Observer

    from gum.records import Observation

    class Calendar(Observer):
        name = "calendar"
        interval = 600

        def tick(self):
            self.emit(Observation(observer=self.name, app="Calendar", text="Dentist at 15:00"))
            self.ok("read today's events")

    seen = []
    cal = Calendar()
    cal.attach(seen.append)
    cal.start()
    cal.tick()
    assert seen[0].text == "Dentist at 15:00"
    assert cal.health() == {"ok": True, "detail": "read today's events"}
    cal.fail("calendar file missing")
    assert cal.health() == {"ok": False, "detail": "calendar file missing"}
