"""Confidence from evidence, not from the model.

Small models rate nearly everything 9 or 10, so the stored confidence is computed from what supports a
proposition: how many distinct observations, across how many apps and days, and the user's own word.
The model's score moves the result by at most one point.

    support  = observations + 0.5 x (extra apps) + 0.5 x (extra days)
    base     = 3 + 2.2 x log2(1 + support)        1 obs: 5.2, 2: 6.5, 3: 7.4, 5: 8.7, 8 or more: 10
    model    = (model_confidence - 5.5) / 4.5      within -1..+1
    result   = clamp(round(base + model), 1, 10), at most 6 with a single observation

It is monotone in support: more evidence never lowers confidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SINGLE_OBSERVATION_CAP = 6


@dataclass
class Evidence:
    """What the evidence of one proposition adds up to."""

    observations: int = 0
    apps: int = 0
    days: int = 0
    model_confidence: int | None = None


def confidence(ev: Evidence) -> tuple[int, dict]:
    """The 1-10 confidence for `ev`, and the breakdown shown by `gum show`."""
    support = ev.observations + 0.5 * max(0, ev.apps - 1) + 0.5 * max(0, ev.days - 1)
    base = 3 + 2.2 * math.log2(1 + support) if support > 0 else 2.0
    model = 0.0 if ev.model_confidence is None else (max(1, min(10, ev.model_confidence)) - 5.5) / 4.5
    value = base + model
    capped = ev.observations <= 1
    if capped:
        value = min(value, SINGLE_OBSERVATION_CAP)
    result = max(1, min(10, int(round(value))))
    return result, {
        "observations": ev.observations,
        "apps": ev.apps,
        "days": ev.days,
        "support": round(support, 2),
        "from_support": round(base, 2),
        "from_model": round(model, 2),
        "single_observation_cap": capped,
        "confidence": result,
    }
