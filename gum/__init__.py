"""gum: a local general user model.

    from gum import gum
    async with gum("Priya", Screen(), model="embedded") as g:
        for prop in await g.query("what is Priya working on?"):
            print(prop.confidence, prop.text)
"""

from __future__ import annotations

__all__ = ["Gum", "Observation", "Proposition", "gum"]


def __getattr__(name: str):
    # Nothing heavy at import time: the API class (and what it pulls in) loads on first use.
    if name in ("gum", "Gum"):
        from .core import Gum

        return Gum
    if name in ("Observation", "Proposition"):
        from . import records

        return getattr(records, name)
    raise AttributeError(name)
