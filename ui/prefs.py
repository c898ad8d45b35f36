"""The tray's own small preferences (when the Memory window was last looked at, the data folder), kept in
tray.ini next to config.toml. The agent's settings live in config.toml and are changed through the API."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QSettings


def prefs() -> QSettings:
    """tray.ini in gum's config folder (GUM_CONFIG_DIR in tests: never the real user's)."""
    from gum.paths import config_dir, ensure_private_dir

    ensure_private_dir(config_dir())
    return QSettings(str(config_dir() / "tray.ini"), QSettings.IniFormat)


def get_time(key: str) -> datetime | None:
    from .views.proposition_model import parse_time

    return parse_time(prefs().value(key))


def set_time(key: str, value: datetime) -> None:
    s = prefs()
    s.setValue(key, value.isoformat())
    s.sync()


def get(key: str, default=None):
    return prefs().value(key, default)


def set(key: str, value) -> None:
    s = prefs()
    if value is None:
        s.remove(key)
    else:
        s.setValue(key, value)
    s.sync()
