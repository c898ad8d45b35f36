"""The whole extension surface of gum: the hooks a plugin (or gum itself) implements.

A plugin is a module or object with functions marked @hookimpl, published under the "gum" entry point
group (see README, "Writing an observer"). gum's own observers and model back-ends are registered through
these same hooks (gum/default_plugins/).
"""

from __future__ import annotations

from pluggy import HookimplMarker, HookspecMarker

hookspec = HookspecMarker("gum")
hookimpl = HookimplMarker("gum")


@hookspec
def register_observers(register, settings):
    """Register observers: register(name, factory). gum calls factory(context) with an ObserverContext
    (settings, this plugin's [plugins.NAME] options, the window exclusions) for each observer named in the
    `observers` setting, and the observer it returns gets the agent's emit, pause and activity."""


@hookspec
def register_models(register):
    """Register model back-ends: register(name, factory, matches=None). factory(spec, settings) returns a
    Model; matches(spec) says whether a `model` setting is this back-end's (default: the name itself, or
    "name:variant"). Plugins are asked before gum's own back-ends, so one can replace "embedded"."""
