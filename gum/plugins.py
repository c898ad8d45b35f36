"""Plugins: gum's own (gum/default_plugins/) and those installed under the "gum" entry point group, loaded
lazily, once, into one pluggy PluginManager; and what they register (observers, model back-ends)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from . import hookspecs

DEFAULT_PLUGINS = ("gum.default_plugins.observers", "gum.default_plugins.models")
_lock = threading.Lock()
_pm: pluggy.PluginManager | None = None


def get_plugin_manager() -> pluggy.PluginManager:
    """The plugin manager, with the default plugins and every installed one (loaded on first use)."""
    global _pm
    with _lock:
        if _pm is None:
            import importlib

            pm = pluggy.PluginManager("gum")
            pm.add_hookspecs(hookspecs)
            pm.load_setuptools_entrypoints("gum")
            for name in DEFAULT_PLUGINS:
                pm.register(importlib.import_module(name), name=name)
            _pm = pm
        return _pm


@dataclass
class ObserverContext:
    """What an observer factory gets: the settings, its plugin's own [plugins.NAME] table, the exclusions,
    and the names of all the observers being started with it."""

    name: str
    settings: Any
    options: dict = field(default_factory=dict)
    exclusions: Any = None
    observers: list[str] = field(default_factory=list)


@dataclass
class ModelBackend:
    """A registered model back-end."""

    name: str
    factory: Callable
    matches: Callable[[str], bool]
    plugin: str


def observer_factories(settings) -> dict[str, tuple[Callable, str]]:
    """{observer name: (factory, the plugin that registered it)}; the first registration of a name wins."""
    found: dict[str, tuple[Callable, str]] = {}
    pm = get_plugin_manager()
    for impl in pm.hook.register_observers.get_hookimpls()[::-1]:  # pluggy's call order: newest first

        def register(name: str, factory: Callable, _plugin=impl.plugin_name) -> None:
            found.setdefault(name, (factory, _plugin))

        impl.function(register=register, settings=settings)
    return found


def model_backends() -> list[ModelBackend]:
    """Every registered back-end, installed plugins' before gum's own."""
    backends: list[ModelBackend] = []
    pm = get_plugin_manager()
    for impl in pm.hook.register_models.get_hookimpls()[::-1]:

        def register(name: str, factory: Callable, matches: Callable | None = None, _plugin=impl.plugin_name):
            backends.append(
                ModelBackend(
                    name,
                    factory,
                    matches or (lambda spec, n=name: spec == n or spec.startswith(n + ":")),
                    _plugin,
                )
            )

        impl.function(register=register)
    return backends


def plugin_options(settings, plugin: str) -> dict:
    """The [plugins.NAME] table of config.toml for a plugin (by its entry-point name), or {}."""
    return dict((getattr(settings, "plugins", None) or {}).get(plugin, {}))


def installed() -> list[dict]:
    """Name, version and hooks of every plugin (gum's own marked as such), for `gum plugins`."""
    from .config import Settings

    pm = get_plugin_manager()
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    registered: dict[str, list[str]] = {}
    for name, (_, plugin) in observer_factories(Settings()).items():
        registered.setdefault(plugin, []).append(f"observer {name}")
    for backend in model_backends():
        registered.setdefault(backend.plugin, []).append(f"model {backend.name}")
    out = []
    for name, plugin in pm.list_name_plugin():
        dist = dists.get(id(plugin))
        out.append(
            {
                "name": name,
                "version": dist.version if dist is not None else None,
                "package": dist.project_name if dist is not None else "gum-desktop (built in)",
                "hooks": sorted(h.name for h in pm.get_hookcallers(plugin) or []),
                "registers": registered.get(name, []),
            }
        )
    return sorted(out, key=lambda p: (p["name"] in DEFAULT_PLUGINS, p["name"]))
