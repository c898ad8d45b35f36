"""Prompts live in resources/prompts as files; this loads them and fences untrusted text."""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def _template(name: str) -> str:
    return resources.files("gum.resources").joinpath("prompts", f"{name}.md").read_text(encoding="utf-8")


def render(name: str, **values: str) -> str:
    """The prompt `name` with {placeholders} filled in (only the ones given; other braces stay as they are)."""
    text = _template(name)
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


def fence(tag: str, text: str, **attrs: str) -> str:
    """Wrap untrusted text in <tag ...>...</tag> so that nothing in it can close the fence early."""

    def clean(value: str) -> str:
        return value.replace("<", "‹").replace(">", "›")

    head = " ".join([tag, *(f'{k}="{clean(v).replace(chr(34), chr(39))}"' for k, v in attrs.items() if v)])
    return f"<{head}>\n{clean(text).strip()}\n</{tag}>"
