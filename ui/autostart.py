"""Start at login: an XDG autostart .desktop file on Linux, a LaunchAgent on macOS, a Startup script on
Windows. The Linux template is packaging/gum.desktop (also the app launcher for distribution packages)."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent.parent / "packaging" / "gum.desktop"
# Used when gum is installed from a wheel, which does not carry packaging/.
FALLBACK_TEMPLATE = """[Desktop Entry]
Type=Application
Name=gum
Comment=Learns about you from how you use your computer, on your own machine
Exec={exec}
Icon={icon}
Terminal=false
X-GNOME-Autostart-enabled=true
"""
PLIST = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict>
  <key>Label</key><string>org.gum.tray</string>
  <key>ProgramArguments</key><array>{args}</array>
  <key>RunAtLoad</key><true/>
</dict></plist>
"""


def command() -> list[str]:
    """How to start the tray app with this very installation (the bundle's executable when frozen)."""
    from gum.launch import gum_command

    return gum_command("ui")


def autostart_path(platform: str | None = None) -> Path:
    """Where the start-at-login entry lives on this platform."""
    platform = platform or sys.platform
    home = Path.home()
    if platform == "darwin":
        return home / "Library" / "LaunchAgents" / "org.gum.tray.plist"
    if platform.startswith("win"):
        appdata = Path(os.environ.get("APPDATA", home / "AppData" / "Roaming"))
        return appdata / "Microsoft" / "Windows" / "Start Menu" / "Programs" / "Startup" / "gum.cmd"
    config = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    return config / "autostart" / "gum.desktop"


def _icon() -> str:
    return str(Path(__file__).resolve().parent.parent / "resources" / "icons" / "tray-observing.png")


def entry_text(platform: str | None = None) -> str:
    """The file's content for this platform."""
    platform = platform or sys.platform
    cmd = command()
    if platform == "darwin":
        from xml.sax.saxutils import escape

        return PLIST.format(args="".join(f"<string>{escape(a)}</string>" for a in cmd))
    if platform.startswith("win"):
        return "@echo off\r\nstart \"\" " + " ".join(f'"{a}"' for a in cmd) + "\r\n"
    template = TEMPLATE.read_text() if TEMPLATE.exists() else FALLBACK_TEMPLATE
    return template.replace("{exec}", shlex.join(cmd)).replace("{icon}", _icon())


def is_enabled(platform: str | None = None) -> bool:
    return autostart_path(platform).exists()


def set_enabled(enabled: bool, platform: str | None = None) -> Path:
    """Write or remove the start-at-login entry; returns its path."""
    path = autostart_path(platform)
    if enabled:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(entry_text(platform))
    elif path.exists():
        path.unlink()
    return path
