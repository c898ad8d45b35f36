"""Model back-ends: the embedded GGUF, any GGUF file, an OpenAI-compatible server, and a scripted fake."""

from .base import Model, load_model

__all__ = ["Model", "load_model"]
