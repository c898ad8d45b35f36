"""How the user engaged with what an observation shows: evidence of doing, not just of seeing.

Small models turn everything on screen into a claim about the user. What the user typed, clicked, dwelt on
or acted upon says much more than what merely passed by: a notification, a sponsored post, a message in the
junk folder, a lock screen, or text that addresses an AI. This module reads that from the observation
itself (its meta, its heartbeat dwell, its text and window) and from the input-activity observations
recorded around it, with no model involved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

from .records import Observation

# Input activity near an observation of the same app counts as engagement with it.
INPUT_WINDOW = timedelta(minutes=30)

_NUM = {
    "keys": re.compile(r"(\d[\d,]*)\s*(?:keys|keystrokes|key presses)", re.IGNORECASE),
    "clicks": re.compile(r"(\d[\d,]*)\s*clicks|clicks:\s*(\d[\d,]*)", re.IGNORECASE),
    "scrolls": re.compile(r"(\d[\d,]*)\s*scrolls|scrolls:\s*(\d[\d,]*)", re.IGNORECASE),
    "minutes": re.compile(r"over\s*(\d+(?:\.\d+)?)\s*min", re.IGNORECASE),
}

# Cues that the user is acting in a window, not only looking at it.
_ACTING_WINDOW = re.compile(
    r"^(write|compose|reply|re:|fwd?:|new message|draft|edit|editing)\b|\b(compose|draft|editor|new event|"
    r"checkout|sign[- ]?up|application form|submit)\b|\.(tex|md|py|rs|go|js|ts|docx?|xlsx?|pptx?|txt|als)\b",
    re.IGNORECASE,
)
_ACTING_TEXT = re.compile(
    r"^(me|you|user|i)\s*:|^to:.*\n.*subject:|\b(sent|submitted|saved|booked|ordered|registered|applied|"
    r"accepted|confirmed|rsvp'?d|added to cart|message sent|your order|you replied|you wrote)\b",
    re.IGNORECASE | re.MULTILINE,
)

_KINDS = [
    ("lock", re.compile(r"\b(lock ?screen|screen locked|locked\b.*\bunlock|gnome-screensaver|loginwindow)\b", re.IGNORECASE)),
    ("junk", re.compile(r"\b(junk|spam|phishing|moved to trash|reported as spam)\b", re.IGNORECASE)),
    ("ad", re.compile(r"\b(sponsored|promoted|advertisement|\bad\s*[·:|-]|ads by|paid partnership)\b", re.IGNORECASE)),
    ("notification", re.compile(r"\b(notification|toast|banner alert|push alert|new notification)\b", re.IGNORECASE)),
]

_KIND_NAMES = {kind for kind, _ in _KINDS}

# The user moved, reported or deleted what an earlier observation showed.
_DISOWNED = re.compile(
    r"\b(moved to (junk|spam|trash)|marked as (spam|junk|phishing)|reported (as )?(spam|phishing)|"
    r"deleted|unsubscribed|dismissed|blocked sender|not interested|hide this ad|report ad)\b",
    re.IGNORECASE,
)

_ROLE_LINE = re.compile(r"^(user|me|you|i)\s*:", re.IGNORECASE)
_OTHER_ROLE_LINE = re.compile(r"^(assistant|ai|bot|chatgpt|claude|gemini|system)\s*:", re.IGNORECASE)


@dataclass
class Engagement:
    """How the user engaged with one observation; `weight` says how much it counts as evidence."""

    dwell_s: float = 0.0
    keys: int = 0
    clicks: int = 0
    scrolls: int = 0
    acted: bool = False
    kind: str = "normal"  # normal | notification | ad | junk | lock
    injection: bool = False
    disowned: bool = False
    # Whether anything measured the engagement (live observers always do; a recorded transcript may not).
    known: bool = True
    reasons: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.keys > 0 or self.clicks > 0 or self.scrolls > 0 or self.dwell_s >= 60

    @property
    def weight(self) -> float:
        """How much this observation supports a claim about the user (0: not at all, 1.5: the user acted)."""
        if self.injection or self.disowned:
            return 0.0
        if self.kind != "normal":
            return 0.15
        if self.acted:
            return 1.5
        if self.active:
            return 1.0
        # Nothing measured how the user engaged (an imported transcript): neither engaged nor a glance.
        return 0.5 if self.known else 0.75

    def describe(self) -> str:
        """One line for the prompt and for `gum show`."""
        parts = []
        if self.kind != "normal":
            parts.append(f"a {self.kind}")
        if self.keys or self.clicks:
            parts.append(f"the user typed {self.keys} keys and clicked {self.clicks} times here")
        elif self.scrolls:
            parts.append(f"the user scrolled here {self.scrolls} times")
        if self.dwell_s >= 60:
            parts.append(f"on screen for {self.dwell_s / 60:.0f} min")
        if self.acted and not (self.keys or self.clicks):
            parts.append("the user wrote or acted here")
        if not parts:
            parts.append("only seen, no input")
        if self.disowned:
            parts.append("later moved to junk or deleted by the user")
        return "; ".join(parts)

    @classmethod
    def from_dict(cls, saved: dict) -> Engagement:
        """The engagement recorded by as_dict() (the derived weight is recomputed)."""
        fields = ("dwell_s", "keys", "clicks", "scrolls", "acted", "kind", "injection", "disowned", "known")
        return cls(**{k: saved[k] for k in fields if k in saved})

    def as_dict(self) -> dict:
        return {"dwell_s": round(self.dwell_s), "keys": self.keys, "clicks": self.clicks, "scrolls": self.scrolls,
                "acted": self.acted, "kind": self.kind, "injection": self.injection, "disowned": self.disowned,
                "known": self.known, "weight": self.weight}


def input_counts(text: str) -> dict:
    """Counts from an input-activity line such as 'typing burst: 1240 keys over 14 min; 31 clicks'."""
    out = {}
    for name, pattern in _NUM.items():
        m = pattern.search(text)
        if m:
            value = next(g for g in m.groups() if g)
            out[name] = float(value.replace(",", ""))
    return out


def is_input(obs: Observation) -> bool:
    """Input activity is engagement data, never a claim source of its own."""
    if is_visit(obs):
        return False  # a page left at once is not queued either, but it is no input count (see is_visit)
    return obs.observer == "input" or obs.meta.get("queue") is False


def kind_of(obs: Observation) -> str:
    head = f"{obs.observer}\n{obs.app}\n{obs.window}"
    if obs.meta.get("kind") in _KIND_NAMES:
        return obs.meta["kind"]  # an observer that knows what it saw says so (the notifications observer)
    if obs.observer in ("notification", "notifications"):
        return "notification"
    for kind, pattern in _KINDS:
        if pattern.search(head):
            return kind
    # In the text: a short page that is all advertisement (ad lines inside a page are stripped instead, see
    # strip_ads), or short mail that labels itself junk (a long page mentioning "spam" is not junk mail).
    rest, ads = strip_ads(obs.text)
    if ads and len(rest.strip()) < 40:
        return "ad"
    if _KINDS[1][1].search(obs.text[:300]) and len(obs.text) < 600:
        return "junk"
    return "normal"


def is_visit(obs: Observation) -> bool:
    """A page visit from the browser's history: the browser measured the user opening it and staying."""
    return obs.observer == "browser" and "browser" in obs.meta


def acting_cue(obs: Observation) -> bool:
    """Whether the window or the text shows the user acting (writing, sending, booking), keys aside."""
    return bool(_ACTING_WINDOW.search(obs.window or "") or _ACTING_TEXT.search(obs.text[:1500]))


def split_injection(text: str) -> tuple[str, list[str]]:
    """(text without the lines that address an AI or claim to be a system note, those lines): gum/injection.py."""
    from .injection import split

    return split(text)


_AD_LINE = re.compile(r"^\s*(sponsored|promoted|advertisement|ad|ads)\b\s*[:·|-]?", re.IGNORECASE)


def strip_ads(text: str) -> tuple[str, int]:
    """(text without advertisement lines, how many were removed).

    A line that starts with an ad label goes; a bare label ("Sponsored") takes the next line with it.
    """
    out, removed, skip_next = [], 0, False
    for line in text.splitlines():
        if skip_next:
            skip_next, removed = False, removed + 1
            continue
        m = _AD_LINE.match(line)
        if m:
            removed += 1
            skip_next = not line[m.end():].strip()
            continue
        out.append(line)
    return "\n".join(out), removed


def user_voice(text: str) -> str:
    """In a chat transcript, keep what the user wrote whole and shorten the other side's turns.

    The user's own turns are what they did; an assistant's long answers are what they read.
    """
    lines = text.splitlines()
    if not any(_ROLE_LINE.match(x) for x in lines) or not any(_OTHER_ROLE_LINE.match(x) for x in lines):
        return text
    out, mode = [], None
    for line in lines:
        if _ROLE_LINE.match(line):
            mode = "user"
        elif _OTHER_ROLE_LINE.match(line):
            mode = "other"
            out.append(line[:160] + (" [...]" if len(line) > 160 else ""))
            continue
        if mode != "other":
            out.append(line)
    return "\n".join(out)


def engagement(obs: Observation, neighbours: list[Observation] = ()) -> Engagement:
    """The engagement of `obs`, from its own meta and text and the `neighbours` recorded around it."""
    meta = obs.meta.get("engagement") or {}
    e = Engagement(known=bool(meta) or bool(obs.ts_end and obs.ts_end > obs.ts))
    e.keys = int(meta.get("keys", 0))
    e.clicks = int(meta.get("clicks", 0))
    e.scrolls = int(meta.get("scrolls", 0))
    e.dwell_s = float(meta.get("dwell_s", 0))
    if obs.ts_end and obs.ts_end > obs.ts:
        e.dwell_s = max(e.dwell_s, (obs.ts_end - obs.ts).total_seconds())
    for other in neighbours:
        if other.id == obs.id:
            continue
        counts = input_counts(other.text) if is_input(other) else {}
        # An input line is stamped at the end of the burst it counts: it covers the minutes before it.
        span = timedelta(minutes=counts.get("minutes", 0))
        if is_input(other) and _same_place(obs, other) and -INPUT_WINDOW <= other.ts - obs.ts <= INPUT_WINDOW + span:
            e.known = True
            e.keys += int(counts.get("keys", 0))
            e.clicks += int(counts.get("clicks", 0))
            e.scrolls += int(counts.get("scrolls", 0))
            e.dwell_s = max(e.dwell_s, counts.get("minutes", 0) * 60)
            e.reasons.append(f"input #{other.id}")
        elif (is_visit(other) and not is_visit(obs) and other.window and other.window in (obs.window or "")
              and abs(other.ts - obs.ts) <= INPUT_WINDOW):
            # The screen showed a page the browser's history says the user opened and stayed on.
            stayed = (other.ts_end - other.ts).total_seconds() if other.ts_end else 0.0
            e.known = True
            e.dwell_s = max(e.dwell_s, stayed, float((other.meta.get("engagement") or {}).get("dwell_s", 0)))
            e.reasons.append(f"visit #{other.id}")
        elif (not is_input(other) and other.ts > obs.ts and other.ts - obs.ts <= timedelta(minutes=15)
              and other.app == obs.app and _DISOWNED.search(f"{other.window}\n{other.text[:400]}")):
            e.disowned = True
            e.reasons.append(f"disowned in #{other.id}")
    e.kind = kind_of(obs)
    e.acted = bool(e.keys > 0 or acting_cue(obs))
    _, injected = split_injection(obs.text)
    e.injection = bool(injected) and not split_injection(obs.text)[0].strip()
    return e


def _same_place(a: Observation, b: Observation) -> bool:
    if a.window and b.window and a.window == b.window:
        return True
    return bool(a.app and b.app and a.app == b.app)
