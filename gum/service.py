"""`gum service`: the headless agent (`gum start`) as a systemd --user service, for people who run it without
the tray app. The tray starts its own agent; use one or the other, not both (they would share one port).

The unit is tied to the graphical session: the agent needs the session's DISPLAY, which desktops hand to
the user's systemd manager when graphical-session.target starts.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import click

from .errors import GumError

UNIT = "gum.service"
UNIT_TEXT = """\
# Written by `gum service install`; `gum service uninstall` removes it.
[Unit]
Description=gum agent: learns about you from how you use your computer, on your own machine
After=graphical-session.target
PartOf=graphical-session.target

[Service]
Type=simple
ExecStart={exec_start}
{environment}Restart=on-failure
RestartSec=10
# What the user is doing comes first: OCR and the model get the CPU when it is idle. (OCR runs on one
# thread by itself: OMP_THREAD_LIMIT here would hold the model to one thread too.)
Nice=10

[Install]
WantedBy=graphical-session.target
"""
# Folders chosen by environment at install time are kept for the service, so it uses the same data.
KEPT_ENV = ("GUM_DATA_DIR", "GUM_CONFIG_DIR", "GUM_CACHE_DIR")


class ServiceError(GumError):
    """systemctl is missing or refused."""


def unit_path() -> Path:
    """~/.config/systemd/user/gum.service (XDG_CONFIG_HOME respected)."""
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config / "systemd" / "user" / UNIT


def unit_text() -> str:
    """The unit for this installation: its own gum executable (the desktop build's, or this Python's)."""
    from .launch import gum_command

    env = "".join(f"Environment={shlex.quote(f'{k}={os.environ[k]}')}\n" for k in KEPT_ENV if os.environ.get(k))
    return UNIT_TEXT.format(exec_start=shlex.join(gum_command("start")), environment=env)


def systemctl(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """`systemctl --user ARGS`; ServiceError with its message when it fails and `check`."""
    exe = shutil.which("systemctl")
    if exe is None:
        raise ServiceError("systemctl is not on PATH: this system does not run systemd, so there is no user "
                           "service; start `gum start` from your desktop's autostart instead")
    proc = subprocess.run([exe, "--user", *args], check=False, capture_output=True, text=True, timeout=60)
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip() or f"exit code {proc.returncode}"
        raise ServiceError(f"`systemctl --user {' '.join(args)}` failed: {detail}")
    return proc


def _tray_autostarts() -> bool:
    try:
        from gum.ui.autostart import is_enabled  # no Qt in that module
    except ImportError:  # installed without the tray app
        return False
    return is_enabled()


@click.group("service")
def service_command() -> None:
    """Run the headless agent as a systemd --user service (starts at login, restarts on failure)."""


@service_command.command("install")
@click.option("--no-start", is_flag=True, help="Write and enable the unit, but do not start it now.")
def install(no_start: bool) -> None:
    """Write ~/.config/systemd/user/gum.service, enable it and start it."""
    path = unit_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(unit_text())
    click.echo(f"Wrote {path}")
    try:
        systemctl("daemon-reload")
        systemctl("enable", UNIT) if no_start else systemctl("enable", "--now", UNIT)
    except ServiceError as exc:
        raise ServiceError(f"{exc}. The unit is written; in your desktop session run "
                           f"`systemctl --user enable --now {UNIT}`") from exc
    click.echo(f"Enabled {UNIT}" + ("" if no_start else " and started it") + ": `gum service status` shows it.")
    if _tray_autostarts():
        click.secho("Note: the tray app also starts at login and runs its own agent; turn its "
                    "'Start at login' off, or the two agents will compete for the port.", fg="yellow", err=True)


@service_command.command("uninstall")
def uninstall() -> None:
    """Stop and disable the service and remove its unit (your data is not touched)."""
    path = unit_path()
    if shutil.which("systemctl") is not None:
        systemctl("disable", "--now", UNIT, check=False)  # not loaded, or no user manager: nothing to stop
    if path.exists():
        path.unlink()
        click.echo(f"Removed {path}")
    else:
        click.echo(f"No unit at {path}: nothing to remove.")
    if shutil.which("systemctl") is not None:
        systemctl("daemon-reload", check=False)


@service_command.command("status")
def status() -> None:
    """Whether the unit is installed, enabled and running."""
    path = unit_path()
    click.echo(f"Unit:    {path} ({'installed' if path.exists() else 'not installed'})")
    if shutil.which("systemctl") is None:
        click.echo("systemd: not available (no systemctl)")
        return
    enabled = systemctl("is-enabled", UNIT, check=False).stdout.strip() or "unknown"
    active = systemctl("is-active", UNIT, check=False).stdout.strip() or "unknown"
    click.echo(f"Enabled: {enabled}")
    click.echo(f"Active:  {active}")
