"""tray.log: created 0600 (rotated files too), rotated by size, the agent's lines scrubbed of excerpts and
secrets, and removed by "Delete everything"."""

from __future__ import annotations

import logging
import stat

import pytest


@pytest.fixture
def tray_log(tmp_path, monkeypatch):
    from gum.ui import logfile

    monkeypatch.setenv("GUM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(logfile, "MAX_BYTES", 2000)
    handler = logfile.handler()
    agent_log = logging.getLogger("gum.ui.agent")
    agent_log.addHandler(handler)
    agent_log.setLevel(logging.INFO)
    yield logfile, agent_log
    agent_log.removeHandler(handler)
    handler.close()


def test_tray_log_is_private_and_keeps_no_observation_text_or_secret(tray_log):
    logfile, agent_log = tray_log
    agent_log.info("gum.engine INFO malformed model output (attempt 1): 'Priya is reading her lab results'")
    agent_log.info("observation #12: text='Dear Dr Okafor, my biopsy' could not be parsed")
    agent_log.info("GET /v1/query?q=divorce+lawyer 200")
    agent_log.info("token gum_tray_Abc123Def456Ghi789Jkl0 in a line")
    agent_log.info('  File "/usr/lib/python3/gum/engine.py", line 172, in parse_json')
    path = logfile.log_path()
    text = path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for leaked in ("lab results", "biopsy", "divorce", "gum_tray_Abc"):
        assert leaked not in text
    assert "malformed model output" in text and "engine.py\", line 172" in text


def test_tray_log_is_rotated_and_every_copy_is_private_and_removed_by_delete_everything(tray_log):
    logfile, agent_log = tray_log
    for n in range(200):
        agent_log.info("agent heartbeat line %d", n)
    path = logfile.log_path()
    copies = [path] + [path.with_name(f"tray.log.{n}") for n in (1, 2)]
    assert all(p.exists() for p in copies) and not path.with_name("tray.log.3").exists()
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in copies)
    assert path.stat().st_size <= 2200
    logfile.remove()
    assert not any(p.exists() for p in copies)
