"""Every test gets its own data and config folders; the embedded model is loaded once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"


@pytest.fixture(autouse=True)
def gum_dirs(tmp_path, monkeypatch):
    """A fresh GUM_DATA_DIR and GUM_CONFIG_DIR: no test touches the real user's data."""
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
    return data


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
