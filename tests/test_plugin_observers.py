"""The optional observers (calendar, browser, notifications): off by default, built from their [plugins.NAME]
table in config.toml, and their observations go through the agent's emit into the store."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from gum.agent import Agent, build_observers
from gum.config import Settings, config_path, load_settings
from gum.errors import ConfigError

DATA = Path(__file__).parent / "data" / "calendar"


def test_they_are_off_by_default():
    assert not {"calendar", "browser", "notifications"} & set(Settings().observers)
    assert Settings().plugins == {}


def test_each_is_built_from_its_plugins_table_in_config_toml(tmp_path):
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'''
observers = ["calendar", "browser", "notifications"]
exclude_windows = ["Salary*"]

[plugins.calendar]
sources = ["{DATA / 'work.ics'}"]
horizon_days = 3
include_notes = true

[plugins.browser]
profiles = ["{tmp_path / 'places.sqlite'}"]
exclude_domains = ["intranet.example.com"]

[plugins.notifications]
settle_seconds = 5
''')
    settings = load_settings()
    calendar, browser, notifications = build_observers(settings)
    assert calendar.name == "calendar" and calendar.include_notes and calendar.horizon.days == 3
    assert browser.domains.blocked("intranet.example.com") and browser.domains.blocked("www.paypal.com")
    assert browser.exclusions.matches("", "Salary bands")  # the window exclusions apply to page titles
    assert notifications.settle == 5.0 and notifications.exclusions.matches("", "Salary bands")


def test_a_misspelt_setting_is_a_config_error_that_names_the_table():
    settings = Settings(observers=["calendar"], plugins={"calendar": {"sourcez": ["x.ics"]}})
    with pytest.raises(ConfigError, match=r"\[plugins.calendar\].*sourcez"):
        build_observers(settings)


def test_calendar_observations_reach_the_store_through_the_agent(store):
    settings = Settings(observers=["calendar"], plugins={"calendar": {"sources": [str(DATA / "personal.ics")],
                                                                       "horizon_days": 3650, "lookback_days": 36500}})
    agent = Agent(settings, serve_api=False)
    (cal,) = agent.observers
    cal.attach(agent.emit, paused=agent.is_paused)
    cal.start()
    cal.tick()
    (obs,) = store.observations(limit=5)
    assert obs.observer == "calendar" and "Climbing with Jonas" in obs.text
    assert store.queue_counts()["pending"] == 1  # an event is a claim source for the engine
    agent.pause()
    cal.state.data["events"].clear()
    cal.tick()  # paused: nothing is read
    assert len(store.observations(limit=5)) == 1
    assert agent.status()["observers"]["calendar"]["ok"]


def test_gum_status_lists_the_observers_and_their_health(monkeypatch):
    from gum.cli import main

    monkeypatch.setenv("GUM_OBSERVERS", "window,calendar")
    monkeypatch.delenv("GUM_API_TOKEN", raising=False)
    result = CliRunner().invoke(main, ["status"])
    assert result.exit_code == 0, result.output
    assert "Observers:    window, calendar" in result.output
    assert "calendar: ? - health unknown (set GUM_API_TOKEN" in result.output


def test_settings_written_by_the_tray_keep_the_plugin_tables_intact():
    import tomllib

    from gum.api.settings_io import update_settings

    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('observers = ["screen", "calendar"]\n\n[plugins.calendar]\nsources = ["~/cal.ics"]\n')
    update_settings({"redact_patterns": ["ACME-\\\\d+"], "observers": ["calendar"]})
    saved = tomllib.loads(path.read_text())
    assert saved["redact_patterns"] == ["ACME-\\\\d+"] and saved["observers"] == ["calendar"]
    assert saved["plugins"] == {"calendar": {"sources": ["~/cal.ics"]}}


def test_gums_own_observers_load_without_package_metadata(monkeypatch):
    import importlib.metadata

    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group=None: [])  # as in a frozen build
    (obs,) = build_observers(Settings(observers=["browser"], plugins={"browser": {"interval_minutes": 1}}))
    assert obs.name == "browser" and obs.interval == 60


def test_the_api_refuses_to_write_plugin_tables_and_says_where_they_are_set():
    from gum.api.settings_io import update_settings
    from gum.errors import InputError

    with pytest.raises(InputError, match=r"config.toml \(\[plugins.NAME\] tables\)"):
        update_settings({"plugins": {"calendar": {"sources": []}}})
