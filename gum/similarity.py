"""Cheap, deterministic text similarity between propositions: decides the clear cases without the model."""

from __future__ import annotations

import re

from .store import STOPWORDS

_WORD = re.compile(r"[a-z0-9][a-z0-9'+#.-]*")


def _stem(word: str) -> str:
    word = word.strip("'.-")
    for suffix in ("ings", "ing", "ies", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def terms(text: str, ignore: frozenset[str] = frozenset()) -> set[str]:
    """The content words of a text, lowercased and crudely stemmed, without stopwords and `ignore`d words."""
    out = set()
    for w in _WORD.findall(text.lower()):
        w = _stem(w)
        if len(w) > 1 and w not in STOPWORDS and w not in ignore:
            out.add(w)
    return out


def similarity(a: str, b: str, ignore: frozenset[str] = frozenset()) -> float:
    """0..1: the larger of Jaccard overlap and 0.7 x containment of the smaller term set in the larger.

    Containment catches a short claim restated inside a longer one ("uses Zotero" in "uses Zotero to
    manage thesis references"). It is discounted below the engine's "identical" threshold (0.75): a claim that
    adds detail to another is never taken for the same claim without asking; only Jaccard can reach that.
    """
    return overlap(terms(a, ignore), terms(b, ignore))


def overlap(ta: set[str], tb: set[str]) -> float:
    """similarity() on term sets already computed."""
    if not ta or not tb:
        return 0.0
    inter = len(ta & tb)
    jaccard = inter / len(ta | tb)
    containment = inter / min(len(ta), len(tb)) if min(len(ta), len(tb)) >= 2 else 0.0
    return max(jaccard, 0.7 * containment)
