"""Tokens pass between gum's processes through a pipe or a 0600 file, never the environment or argv: a running
agent's /proc/PID/environ and /proc/PID/cmdline do not hold the tray's token, and `gum token create --file`
writes a file only the user can read."""

from __future__ import annotations

import os
import stat
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from gum.handoff import HandoffError, read_fd, read_file, write_file


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_running_agent_has_the_tray_token_neither_in_its_environment_nor_its_command_line(tmp_path):
    from ui_helpers import RunningAgent

    agent = RunningAgent(tmp_path / "data", tmp_path / "agent.log")
    try:
        deadline = time.monotonic() + 60
        while not agent.healthy():
            assert time.monotonic() < deadline, "the agent did not come up"
            time.sleep(0.3)
        proc = Path(f"/proc/{agent.proc.pid}")
        assert agent.token.encode() not in (proc / "environ").read_bytes()
        assert agent.token.encode() not in (proc / "cmdline").read_bytes()
        with agent.client() as c:
            assert c.health()["ok"], "the token arrived over the pipe and works"
    finally:
        agent.stop()


def test_a_token_on_a_pipe_is_read_once_and_the_pipe_closed():
    r, w = os.pipe()
    os.write(w, b"gum_tray_abc123XYZ\n")
    os.close(w)
    assert read_fd(r) == "gum_tray_abc123XYZ"
    with pytest.raises(OSError):
        os.read(r, 1)


def test_a_token_file_must_be_private(tmp_path):
    path = write_file(tmp_path / "t" / "mcp.token", "gum_secret123")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_file(path) == "gum_secret123"
    with pytest.raises(HandoffError, match="already exists"):
        write_file(path, "again")
    path.chmod(0o644)
    with pytest.raises(HandoffError, match="chmod 600"):
        read_file(path)


def test_gum_token_create_file_writes_the_secret_to_a_0600_file_and_prints_only_the_path(tmp_path):
    from gum.api.tokens import token_command, verify
    from gum.store import Store

    target = tmp_path / "editor.token"
    result = CliRunner().invoke(token_command, ["create", "editor", "--file", str(target)])
    assert result.exit_code == 0, result.output
    secret = target.read_text().strip()
    assert secret.startswith("gum_") and secret not in result.output
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert verify(Store(), secret).name == "editor"
