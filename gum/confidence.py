"""Confidence from evidence, not from the model.

Small models rate nearly everything 9 or 10 (FINDINGS.md), so the stored confidence is computed from what
supports a proposition. Each supporting observation counts by how the user engaged with it
(gum/engagement.py): 1.5 when the user acted there (typed, wrote, sent, booked), 1.0 when they spent time or
input on it, 0.5 for a glance, 0.75 when nothing measured it (an imported transcript), 0.15 for a notification, an advertisement, junk mail or a lock screen, and 0
for text that addressed an AI or that the user disowned (moved to junk, deleted).

    support  = sum of the weights + 0.25 x (extra apps) + 0.25 x (extra days)    (diversity counts only
                                                                                  when there is support)
    base     = 1 + 9 x (1 - exp(-support / 0.6))       0.15: 2.9, 0.5: 5.1, 0.75: 7.4, 1: 7.3, 2: 9.7
    model    = (model_confidence - 5.5) / 9            within -0.5..+0.5: one input at most
    caps     = one observation: 4 if it was only a glance, 7 otherwise; 8 or more needs two observations
               that carry weight (each 1.0 or more)
    kind     = "uses <the app the observation came from>" keeps these caps; "uses" something else is capped at
               7 (8 with two weighty observations); the document the user typed in and what the user says of
               themselves in a chat at 7 (10); every other relation at 4 (5 with two weighty observations);
               the app on screen and an event of the user's calendar at least 7

Refit on the evaluation scenarios (`gum eval`, issue 12) against a reader's labels of every kept
proposition, after propositions came to be composed from slots (gum/compose.py): with the embedded 0.5B
model, "uses <tool>" propositions were acceptable 65-80% of the time from one observation, engaged or
unmeasured alike, a glance 5%; "uses" the app the observation came from: 24 of 24; "uses" a thing merely
named on screen: 6 of 16; every other relation (works on, does, writes, ...) read from a screen: 1 of 29.
The model extracts the thing well and picks its relation badly. Brier against the labels, over every kept
proposition of that run: 0.245 before the refit, about 0.12 after (in-sample: check it on new scenarios).
Refit again on the full eval after d040a99: once people, events, editions and greetings were refused
as tools, the propositions at 4 (most of them "uses" a thing named on screen, at that cap) read true for 12
of 17, so the cap is 6; a typed-in document ("is working on <document> in <tool>") read true for 13 of 14.
Refit again on the full evals at ae6eed1 and 0b795f3 (124 and 117 propositions read; in-sample): "uses" a
named tool read true 14 of 16 at its cap of 6 (cap 7 now), the app on screen or an event of the user's
calendar seen in a glance 9 of 9 at 4 (at least 7 now, KIND_FLOORS), every other relation 10 of 28 at 2 (cap
4 now).
    result   = clamp(round(base + model), 1, 10), within the caps

More support, or more engaged support, never lowers the result (monotone), and it stays within 1..10.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

GLANCE_CAP = 4
UNMEASURED_CAP = 7  # one observation whose engagement nobody measured (0.75): as reliable as an engaged one
SINGLE_OBSERVATION_CAP = 7
UNCORROBORATED_CAP = 7
SCALE = 0.6
# gum/compose.py kinds -> (cap from one observation or one weighty one, cap with two weighty observations)
# "document": the user typed in it (gum/compose.py compose_document), as much as acting can say from one
# observation; "event": it is in the user's own calendar (compose_event); "contact": the user typed in a mail
# to or from that person (compose_correspondence).
KIND_CAPS = {"app": (10, 10), "tool": (7, 8), "document": (7, 10), "said": (7, 10), "event": (7, 10),
             "contact": (7, 10), "signature": (7, 10)}
WEAK_KIND_CAPS = (4, 5)  # every other kind of proposition the model composed
# What a glance cannot make less sure: the app on screen is one the user has open, an event in the user's own
# calendar is theirs, however briefly either was looked at (9 of 9 such propositions at the glance cap of 4 read
# true in the full eval at 0b795f3).
KIND_FLOORS = {"app": 7, "event": 7}


@dataclass
class Evidence:
    """What the evidence of one proposition adds up to: one weight per supporting observation."""

    weights: list[float] = field(default_factory=list)
    apps: int = 0
    days: int = 0
    model_confidence: int | None = None
    kind: str = ""  # what kind of proposition (gum/compose.py): "" for one written by hand or before slots

    @property
    def observations(self) -> int:
        return len(self.weights)


def confidence(ev: Evidence) -> tuple[int, dict]:
    """The 1-10 confidence for `ev`, and the breakdown `gum show` prints."""
    raw = sum(max(0.0, w) for w in ev.weights)
    diversity = 0.25 * max(0, ev.apps - 1) + 0.25 * max(0, ev.days - 1) if raw > 0 else 0.0
    support = raw + diversity
    base = 1 + 9 * (1 - math.exp(-support / SCALE))
    # The model's opinion can nudge a supported claim, never create support.
    model = 0.0 if ev.model_confidence is None or raw == 0 else (max(1, min(10, ev.model_confidence)) - 5.5) / 9
    value = base + model
    weighty = sum(1 for w in ev.weights if w >= 1.0)
    if ev.observations <= 1:
        cap = GLANCE_CAP if raw <= 0.5 else UNMEASURED_CAP if raw < 1.0 else SINGLE_OBSERVATION_CAP
    elif weighty < 2:
        cap = UNCORROBORATED_CAP
    else:
        cap = 10
    if ev.kind:
        single, corroborated = KIND_CAPS.get(ev.kind, WEAK_KIND_CAPS)
        cap = min(cap, corroborated if weighty >= 2 else single)
    result = max(1, min(cap, round(value)))
    if raw > 0 and ev.kind in KIND_FLOORS:
        result = max(result, min(KIND_FLOORS[ev.kind], KIND_CAPS[ev.kind][0]))
    return result, {
        "observations": ev.observations,
        "weights": [round(w, 2) for w in ev.weights],
        "apps": ev.apps,
        "days": ev.days,
        "support": round(support, 2),
        "from_support": round(base, 2),
        "from_model": round(model, 2),
        "cap": cap,
        "kind": ev.kind,
        "confidence": result,
    }
