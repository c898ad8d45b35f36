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
    """A model from a setting: 'embedded', a path to a .gguf file, or an http(s) base URL of a server.

    Plugins can register more back-ends through the `gum.models` entry point group: a callable taking
    (spec, settings) and returning a Model, or None when the spec is not theirs.
    """
    from ..config import Settings

    settings = settings or Settings()
    spec = (spec or "embedded").strip()
    if spec.startswith(("http://", "https://")):
        from .openai_compat import OpenAICompatModel

        return OpenAICompatModel(spec, settings.server_model, api_key=settings.server_api_key)
    if spec == "embedded" or spec.startswith("embedded:"):
        from .embedded import embedded_model_path
        from .llama import LlamaCppModel

        variant = spec.partition(":")[2] or None
        return LlamaCppModel(embedded_model_path(variant), n_ctx=settings.n_ctx, threads=settings.threads,
                             name=spec)
    if spec.lower().endswith(".gguf"):
        from .llama import LlamaCppModel

        return LlamaCppModel(spec, n_ctx=settings.n_ctx, threads=settings.threads)
    from importlib.metadata import entry_points

    for ep in entry_points(group="gum.models"):
        model = ep.load()(spec, settings)
        if model is not None:
            return model
    from ..errors import ConfigError

    raise ConfigError(
        f"unknown model {spec!r}: use 'embedded', a path to a .gguf file, or a server URL like http://127.0.0.1:8080/v1"
    )
