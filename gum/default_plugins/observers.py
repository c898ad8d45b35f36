"""The built-in observers: screen (text on screen, by OCR), input (activity counts), window (the active one),
and the optional ones, off by default and built from their [plugins.NAME] table: calendar, browser history,
notifications."""

from __future__ import annotations

import importlib
import inspect

from ..errors import ConfigError
from ..hookspecs import hookimpl

OPTIONAL = {
    "calendar": "gum.observers.calendar:Calendar",
    "browser": "gum.observers.browser:BrowserHistory",
    "notifications": "gum.observers.notifications:Notifications",
}


@hookimpl
def register_observers(register, settings):
    register("screen", screen)
    register("input", input_activity)
    register("window", window)
    for name, where in OPTIONAL.items():
        register(name, lambda context, where=where: configured(where, context))


def screen(context):
    from gum.observers import Screen

    from ..privacy import Redactor
    from ..screenshots import ScreenshotKeeper

    s = context.settings
    keeper = None
    if s.keep_screenshots:
        keeper = ScreenshotKeeper(
            budget_bytes=s.screenshot_budget_mb * 2**20, max_age_days=s.screenshot_max_age_days
        )
    obs = Screen(exclusions=context.exclusions, keeper=keeper, redactor=Redactor(s.redact_patterns))
    obs.interval = obs.base_interval = float(s.screen_interval_seconds)
    return obs


def input_activity(context):
    from gum.observers import InputActivity

    return InputActivity(afk_after=float(context.settings.afk_after_seconds))


def window(context):
    from gum.observers import ActiveWindow

    # With the screen observer on, screen captures carry the queueing; window switches only add context.
    return ActiveWindow(exclusions=context.exclusions, queue="screen" not in context.observers)


def configured(where: str, context):
    """An observer class built with its [plugins.NAME] table as keyword arguments (and the exclusions)."""
    module, _, attr = where.partition(":")
    cls = getattr(importlib.import_module(module), attr)
    kwargs = dict(context.options)
    if "exclusions" in inspect.signature(cls).parameters:
        kwargs.setdefault("exclusions", context.exclusions)  # the user's window exclusions apply here too
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"[plugins.{context.name}] in config.toml: {exc}") from exc
