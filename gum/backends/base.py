"""The small interface every model back-end implements, and the choice of back-end from a setting."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..records import Usage


@runtime_checkable
class Model(Protocol):
    """A chat model that answers with JSON conforming to a schema."""

    name: str

    def complete_json(
        self, system: str, user: str, schema: dict, *, max_tokens: int = 256, temperature: float = 0.2
    ) -> tuple[str, Usage]:
        """Return the raw text of the answer (meant to be JSON for `schema`) and what the call cost."""
        ...


def load_model(spec: str, settings=None) -> Model:
    """A model from a setting: 'embedded', a path to a .gguf file, an http(s) base URL of a server, or the
    name of a back-end a plugin registered (gum/hookspecs.py register_models; plugins are asked first)."""
    from ..config import Settings
    from ..errors import ConfigError
    from ..plugins import model_backends

    settings = settings or Settings()
    spec = (spec or "embedded").strip()
    backends = model_backends()
    for backend in backends:
        if backend.matches(spec):
            return backend.factory(spec, settings)
    names = ", ".join(b.name for b in backends if b.plugin not in ("gum.default_plugins.models",))
    raise ConfigError(
        f"unknown model {spec!r}: use 'embedded', a path to a .gguf file, or a server URL like "
        "http://127.0.0.1:8080/v1" + (f" (plugins offer: {names})" if names else "")
    )
