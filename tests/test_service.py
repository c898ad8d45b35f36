"""`gum service install|uninstall|status`: a systemd --user unit for the headless agent.

systemctl is replaced by a script on PATH that records its arguments: the unit file is real, systemd's
answer is what the script prints. The unit itself is checked by `systemd-analyze verify` where it exists.
"""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys

import pytest
from click.testing import CliRunner

from gum.cli import main


@pytest.fixture
def xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg"


@pytest.fixture
def systemctl(monkeypatch, tmp_path):
    """A fake systemctl on PATH; returns the file where each call's arguments are logged, one per line."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "systemctl.calls"
    script = bin_dir / "systemctl"
    script.write_text(
        f'#!/bin/sh\necho "$*" >> {calls}\n'
        'case "$2" in is-enabled) echo enabled ;; is-active) echo active ;; esac\n'
        'if [ -n "$FAIL_SYSTEMCTL" ]; then echo "Failed to connect to bus: No medium found" >&2; exit 1; fi\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    return calls


def test_install_writes_a_unit_that_restarts_the_agent_on_failure_and_enables_it(xdg, systemctl):
    result = CliRunner().invoke(main, ["service", "install"])
    assert result.exit_code == 0, result.output
    unit = (xdg / "systemd" / "user" / "gum.service").read_text()
    assert "Restart=on-failure" in unit
    assert f"ExecStart={sys.executable} -m gum.cli start" in unit
    assert "WantedBy=graphical-session.target" in unit
    assert systemctl.read_text().splitlines() == ["--user daemon-reload", "--user enable --now gum.service"]


def test_the_unit_keeps_the_data_folders_chosen_by_environment(xdg, systemctl, gum_dirs):
    CliRunner().invoke(main, ["service", "install", "--no-start"])
    unit = (xdg / "systemd" / "user" / "gum.service").read_text()
    assert f"Environment=GUM_DATA_DIR={gum_dirs}" in unit
    assert "--user enable gum.service" in systemctl.read_text()


def test_install_without_a_user_manager_says_the_unit_is_written_and_what_to_run(xdg, systemctl, monkeypatch):
    monkeypatch.setenv("FAIL_SYSTEMCTL", "1")
    result = CliRunner().invoke(main, ["service", "install"])
    assert result.exit_code == 1
    assert "No medium found" in result.output and "systemctl --user enable --now gum.service" in result.output
    assert (xdg / "systemd" / "user" / "gum.service").exists()


def test_status_reports_installed_enabled_active(xdg, systemctl):
    CliRunner().invoke(main, ["service", "install"])
    result = CliRunner().invoke(main, ["service", "status"])
    assert result.exit_code == 0
    assert "(installed)" in result.output and "Enabled: enabled" in result.output and "Active:  active" in result.output


def test_uninstall_stops_disables_and_removes_the_unit_but_not_the_data(xdg, systemctl, gum_dirs):
    gum_dirs.mkdir(parents=True)
    (gum_dirs / "keep-me").write_text("user data")
    CliRunner().invoke(main, ["service", "install"])
    result = CliRunner().invoke(main, ["service", "uninstall"])
    assert result.exit_code == 0, result.output
    assert not (xdg / "systemd" / "user" / "gum.service").exists()
    assert "--user disable --now gum.service" in systemctl.read_text()
    assert (gum_dirs / "keep-me").read_text() == "user data"


def test_no_systemd_is_a_clear_error(xdg, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no systemctl anywhere
    result = CliRunner().invoke(main, ["service", "install"])
    assert result.exit_code == 1 and "systemctl is not on PATH" in result.output


def test_install_warns_when_the_tray_also_starts_at_login(xdg, systemctl):
    from gum.ui import autostart

    autostart.set_enabled(True, platform="linux")
    result = CliRunner().invoke(main, ["service", "install"])
    assert "Start at login" in result.output


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_accepts_the_unit(xdg, tmp_path):
    from gum.service import unit_text

    runtime = tmp_path / "runtime"  # verify --user needs a runtime dir, not a running user manager
    runtime.mkdir(mode=0o700)

    def complaints(text: str) -> list[str]:
        path = tmp_path / "gum.service"
        path.write_text(text)
        proc = subprocess.run(["systemd-analyze", "--user", "verify", str(path)], capture_output=True, text=True,
                              timeout=60, check=False, env={"PATH": "/usr/bin:/bin", "XDG_RUNTIME_DIR": str(runtime)})
        return [line for line in (proc.stdout + proc.stderr).splitlines() if "gum.service" in line]

    assert complaints(unit_text()) == []
    # The check can fail: systemd names a bad line of the same unit.
    assert complaints(unit_text().replace("Restart=on-failure", "Restart=sometimes"))
