"""Every test gets its own data and config folders; the embedded model is loaded once per session.

Fixtures shared by the API, MCP and CLI tests: `agent` (a real Agent, not started), `server` (the local API
served for it on a free loopback port) and `seeded` (a small memory in the test's database).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"


@pytest.fixture(autouse=True)
def gum_dirs(tmp_path, monkeypatch):
    """A fresh GUM_DATA_DIR, GUM_CONFIG_DIR and XDG_RUNTIME_DIR: no test touches the real user's data."""
    data = tmp_path / "data"
    config = tmp_path / "config"
    monkeypatch.setenv("GUM_DATA_DIR", str(data))
    monkeypatch.setenv("GUM_CONFIG_DIR", str(config))
    for var in ("GUM_MODEL", "GUM_USER_NAME", "GUM_OBSERVERS", "GUM_EXCLUDE_WINDOWS", "GUM_API_PORT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("OMP_THREAD_LIMIT", "1")
    # Never the real OS keyring or a real key file: a key file in this test's folder (a test that wants a
    # keyring sets GUM_KEY_STORE itself and installs an in-memory backend with keyring.set_keyring).
    monkeypatch.setenv("GUM_KEY_STORE", "file")
    monkeypatch.setenv("GUM_KEY_FILE", str(tmp_path / "keys" / "master.key"))
    monkeypatch.delenv("GUM_PASSPHRASE", raising=False)
    # A private runtime folder of the test's own, as a desktop session has: the API's socket goes there, not
    # into the real user's cache (and its path stays short enough for a Unix socket).
    runtime = tempfile.mkdtemp(prefix="gumrt")
    monkeypatch.setenv("XDG_RUNTIME_DIR", runtime)
    monkeypatch.delenv("GUM_API_SOCKET", raising=False)
    yield data
    shutil.rmtree(runtime, ignore_errors=True)


@pytest.fixture(scope="session")
def embedded_model():
    """The real embedded model (assembled from its PyPI packages), loaded once for the whole run."""
    from gum.backends import load_model
    from gum.config import Settings

    model = load_model("embedded", Settings(n_ctx=4096))
    model.llm  # load now, so the first test does not carry the cost
    return model


@pytest.fixture
def store():
    from gum.store import Store

    s = Store()
    yield s
    s.close()


@pytest.fixture
def artifacts() -> Path:
    """A folder for files a person may want to look at after the run (screenshots)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def agent(monkeypatch):
    """A real Agent, not started: the API only needs its methods (status, pause, store), not observers."""
    from gum.agent import Agent
    from gum.config import Settings

    monkeypatch.delenv("GUM_TRAY_TOKEN", raising=False)
    return Agent(Settings(observers=[]), observers=[], serve_api=False)


@pytest.fixture
def server(agent):
    """The local API for `agent` on 127.0.0.1 and a free port, without a rate limit."""
    from gum.api.server import ApiServer

    api = ApiServer(agent, port=0, rate_per_minute=0).start()
    yield api
    api.stop()


@pytest.fixture
def seeded(store):
    """Three observations and three propositions (one with a revised history) in the database."""
    from gum.records import Observation, Proposition

    seen = [
        ("screen", "Overleaf", "thesis.tex", "Chapter 3: protein folding simulations, draft for Dr. Okafor"),
        ("screen", "Firefox", "Stripe careers", "Backend Engineer application form, Stripe, Dublin"),
        ("window", "Spotify", "Lo-fi beats to study to", "Playing lo-fi beats"),
    ]
    o1, o2, o3 = (
        store.add_observation(Observation(observer=kind, app=app, window=window, text=text))[0]
        for kind, app, window, text in seen
    )
    thesis = store.insert_proposition(
        Proposition(
            text="Priya is writing a PhD thesis on protein folding",
            reasoning="She edits thesis.tex about protein folding.",
            confidence=8,
            decay=9,
        ),
        [o1],
    )
    revised = store.revise(
        thesis,
        Proposition(
            text="Priya is writing chapter 3 of her PhD thesis on protein folding",
            reasoning="Chapter 3 on screen.",
            confidence=9,
            decay=9,
        ),
    )
    job = store.insert_proposition(
        Proposition(text="Priya is applying for a backend engineer job at Stripe", confidence=7, decay=6),
        [o2],
    )
    music = store.insert_proposition(
        Proposition(text="Priya listens to lo-fi music while she works", confidence=5, decay=7), [o3]
    )
    return {"obs": [o1, o2, o3], "thesis_v1": thesis, "thesis": revised, "job": job, "music": music}


@pytest.fixture
def scripted_model():
    """A ScriptedModel registered as the model back-end "scripted" for this test only, through the same
    register_models hook a plugin implements (as llm's tests register MockModel)."""
    from helpers import model_plugin

    from gum.backends.scripted import ScriptedModel

    with model_plugin("scripted-model", "scripted", ScriptedModel()) as model:
        yield model


@pytest.fixture
def evening_here(monkeypatch):
    """A local zone (TZ, for this process and the agents it starts) in which it is evening now: the seeded
    day's 09:00-14:00 is then over today, whatever the hour in UTC. (Run at 00:05 UTC, the day was still to
    come and had no idle gap yet.)"""
    now = datetime.now(timezone.utc)
    offset = (20 - now.hour + 12) % 24 - 12  # -12..11 hours from UTC: 20:xx there
    # POSIX TZ counts hours west of UTC: "GUM-5" is five hours ahead.
    monkeypatch.setenv("TZ", f"GUM{-offset:+d}")
    time.tzset()
    yield timezone(timedelta(hours=offset))
    monkeypatch.undo()
    time.tzset()
