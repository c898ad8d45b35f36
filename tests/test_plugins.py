"""Plugins: gum's own observers and models and a third party's come through the same hooks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import free_port, model_plugin, wait_for

from gum.backends import load_model
from gum.config import Settings
from gum.plugins import model_backends, observer_factories

PLUGIN_PKG = Path(__file__).resolve().parent / "plugin_pkg"


def test_gums_own_observers_and_model_back_ends_are_registered_through_the_plugin_hooks():
    assert {"screen", "input", "window"} <= set(observer_factories(Settings()))
    assert {"server", "embedded", "gguf"} <= {b.name for b in model_backends()}


def test_the_scripted_model_is_a_plugin_registered_for_one_test(scripted_model):
    scripted_model.enqueue({"propositions": []})
    model = load_model("scripted")
    assert model is scripted_model
    assert model.complete_json("system", "user", {})[0] == '{"propositions": []}'


def test_a_plugin_is_asked_before_gum_and_can_replace_the_embedded_model(scripted_model):
    with model_plugin("replacement", "embedded", scripted_model):
        assert load_model("embedded") is scripted_model


def test_an_unknown_observer_names_what_is_installed():
    from gum.agent import build_observers
    from gum.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown observer 'clipboard'.*screen.*gum plugins"):
        build_observers(Settings(observers=["clipboard"]))


def install(site: Path) -> Path:
    """Install the example plugin package (tests/plugin_pkg) into `site` as pip would lay it out."""
    shutil.copytree(PLUGIN_PKG / "gum_notes", site / "gum_notes")
    info = site / "gum_notes-0.3.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: gum-notes\nVersion: 0.3.0\n")
    (info / "entry_points.txt").write_text("[gum]\nnotes = gum_notes\n")
    (info / "top_level.txt").write_text("gum_notes\n")
    return site


def test_an_installed_plugin_observer_runs_under_gum_start_with_its_settings_redaction_and_exclusions(
    tmp_path, gum_dirs
):
    from gum.config import config_path
    from gum.store import Store

    site = install(tmp_path / "site")
    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text(
        'observers = ["notes"]\n'
        'model = "notes-quiet"\n'
        'exclude_windows = ["*secret diary*"]\n'
        "\n[plugins.notes]\n"
        "interval = 0.3\n"
        'notes = [["Groceries - Notes", "buy oat milk, pay with 4111 1111 1111 1111"],\n'
        '         ["My secret diary - Notes", "dear diary, today I"]]\n'
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
        "GUM_API_PORT": str(free_port()),
    }

    listed = subprocess.run(
        [sys.executable, "-m", "gum.cli", "plugins"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "notes 0.3.0 (gum-notes): register_models, register_observers" in listed
    assert "observer notes" in listed and "model notes-quiet" in listed

    log = tmp_path / "agent.log"
    with open(log, "wb") as out:
        agent = subprocess.Popen(
            [sys.executable, "-m", "gum.cli", "start"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:

        def notes():
            if agent.poll() is not None:
                raise AssertionError(log.read_text()[-2000:])
            try:
                store = Store()
            except Exception:  # noqa: BLE001 - the agent may still be creating the database
                return []
            try:
                return [o for o in store.observations(limit=50) if o.observer == "notes"]
            finally:
                store.close()

        seen = wait_for(notes, 60, "the plugin's observations")
    finally:
        agent.terminate()
        agent.wait(timeout=30)
    assert {o.window for o in seen} == {"Groceries - Notes"}  # the excluded window never stored
    assert all("buy oat milk" in o.text and "4111 1111 1111 1111" not in o.text for o in seen)  # redacted
