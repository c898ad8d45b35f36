"""The built-in model back-ends: the embedded model, any .gguf file, and OpenAI-compatible servers."""

from __future__ import annotations

from ..hookspecs import hookimpl


@hookimpl
def register_models(register):
    register("server", server, matches=lambda spec: spec.startswith(("http://", "https://")))
    register("embedded", embedded)
    register("gguf", gguf_file, matches=lambda spec: spec.lower().endswith(".gguf"))


def server(spec, settings):
    from ..backends.openai_compat import OpenAICompatModel

    return OpenAICompatModel(spec, settings.server_model, api_key=settings.server_api_key)


def embedded(spec, settings):
    from ..backends.embedded import embedded_model_path
    from ..backends.llama import LlamaCppModel

    variant = spec.partition(":")[2] or None
    return LlamaCppModel(
        embedded_model_path(variant), n_ctx=settings.n_ctx, threads=settings.threads, name=spec
    )


def gguf_file(spec, settings):
    from ..backends.llama import LlamaCppModel

    return LlamaCppModel(spec, n_ctx=settings.n_ctx, threads=settings.threads)
