"""Distractor propositions for `gum eval --haystack N`: a year of other things gum might know about the user.

A scenario's database holds a handful of propositions, so a top 5 is nearly all of it and retrieval goes
untested. The haystack buries them, as LongMemEval-S buries its evidence in a long history: N propositions about
the same user, from the templates in resources/haystack/templates.json (errands, habits, projects, tastes,
people, places), with ages spread over a year (a tenth of them from the last three days), decays that fit
their kind (a glance fades in a day, a trait lasts months) and confidences distributed as the engine writes
them. Distractors that match any fact of the scenario (its keywords) or name the user are left out: they are
"other things", not rival answers.

The list does not depend on the user: it is written with "the user" as the subject, embedded once per machine
(cached in the cache dir) and then named for each scenario.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path

from . import paths

SEED = 20260301
SUBJECT = "the user"
KIND_WEIGHTS = {"moment": 25, "task": 30, "project": 15, "habit": 18, "trait": 12}
# Confidence as the engine writes it (mostly 5 and 7: evidence-based, underconfident).
CONFIDENCE_WEIGHTS = {3: 5, 4: 8, 5: 30, 6: 10, 7: 30, 8: 9, 9: 6, 10: 2}


@dataclass(frozen=True)
class Distractor:
    """One distractor, written about "the user"; `named` puts a real name in."""

    text: str
    kind: str
    decay: int
    confidence: int
    age_days: float
    span_days: float  # how long before its last evidence it was first seen

    def named(self, user_name: str) -> str:
        text = self.text.replace("{name}", user_name or SUBJECT)
        return text[0].upper() + text[1:]


def _templates() -> dict:
    return json.loads(resources.files("gum.resources").joinpath("haystack/templates.json").read_text("utf-8"))


def generate(n: int, seed: int = SEED) -> list[Distractor]:
    """n distinct distractors (fewer if the templates run out), the same list for the same n and seed."""
    data = _templates()
    rng = random.Random(seed)
    by_kind: dict[str, list[str]] = {}
    for kind, template in data["templates"]:
        by_kind.setdefault(kind, []).append(template)
    kinds = list(KIND_WEIGHTS)
    seen: set[str] = set()
    out: list[Distractor] = []
    attempts = 0
    while len(out) < n and attempts < n * 20:
        attempts += 1
        kind = rng.choices(kinds, weights=[KIND_WEIGHTS[k] for k in kinds])[0]
        template = rng.choice(by_kind[kind])
        text = re.sub(r"\{(\w+)\}", lambda m: "{name}" if m.group(1) == "name" else
                      rng.choice(data["slots"][m.group(1)]), template)
        text += rng.choice(data["contexts"][kind])
        if text in seen:
            continue
        seen.add(text)
        lo, hi = data["kinds"][kind]
        r = rng.random()
        age = rng.uniform(0, 3) if r < 0.1 else rng.uniform(3, 30) if r < 0.3 else rng.uniform(30, 365)
        span = 0.0 if kind == "moment" else rng.uniform(0, min(age + 30, 120))
        conf = rng.choices(list(CONFIDENCE_WEIGHTS), weights=list(CONFIDENCE_WEIGHTS.values()))[0]
        out.append(Distractor(text=text, kind=kind, decay=rng.randint(lo, hi), confidence=conf,
                              age_days=age, span_days=span))
    return out


def for_user(pool: list[Distractor], n: int, user_name: str, excluded: Callable[[str], bool]) -> list[Distractor]:
    """The first n of `pool` that neither name the user nor match what `excluded` says to leave out."""
    parts = [p for p in (user_name or "").split() if len(p) > 1 and p[0].isupper()]
    name = re.compile(r"(?<!\w)(" + "|".join(re.escape(p) for p in parts) + r")(?!\w)") if parts else None
    out = []
    for d in pool:
        text = d.named(user_name)
        if name is not None and name.search(d.text):
            continue
        if excluded(text):
            continue
        out.append(d)
        if len(out) == n:
            break
    return out


def vectors_for(pool: list[Distractor], progress: Callable[[str], None] | None = None):
    """The embeddings of `pool` (as "the user" texts), computed once per machine and cached."""
    import numpy as np

    from . import embeddings

    texts = [d.named(SUBJECT) for d in pool]
    key = hashlib.sha256(("\n".join(texts) + embeddings.MINILM.key + embeddings.MINILM.version).encode()).hexdigest()
    folder = paths.ensure_private_dir(paths.cache_dir() / "haystack")
    cache = folder / f"{key[:16]}-{len(texts)}.npy"
    if cache.is_file():
        vecs = np.load(cache)
        if vecs.shape[0] == len(texts):
            return vecs
    if progress:
        progress(f"embedding {len(texts)} haystack propositions once (cached in {folder})")
    enc = embeddings.encoder()
    chunks = []
    for start in range(0, len(texts), 512):
        chunks.append(enc.encode(texts[start:start + 512]))
        if progress and start and start % 2048 == 0:
            progress(f"  {start}/{len(texts)}")
    vecs = np.concatenate(chunks) if chunks else np.zeros((0, embeddings.MINILM.dim), dtype=np.float32)
    tmp = Path(str(cache) + ".partial.npy")
    np.save(tmp, vecs)
    tmp.replace(cache)
    return vecs


def insert(store, items: list[tuple[Distractor, object]], user_name: str, now: datetime) -> list[int]:
    """Write (distractor, vector) pairs as active propositions with their ages; returns their ids."""
    from . import vectors

    if not items:
        return []
    rows = []
    for d, _ in items:
        updated = now - timedelta(days=d.age_days)
        rows.append((d.named(user_name), "A distractor of gum eval --haystack.", d.confidence, d.decay,
                     updated - timedelta(days=d.span_days), updated))
    ids = store.insert_distractors(rows)
    vectors.write(store, ids, [v for _, v in items])
    return ids
