"""Activity segments: consecutive captures of one app and document, merged into what the model reads.

A screen observer captures whenever the user does something; the model should read an *activity*, not each
capture of it. A segment is the span the user spent on one app and document (the window title, normalised so
"Inbox (3)", an unsaved mark or a browser's suffix do not split it), holding the text that was new in it and
the input counts and dwell that measure how engaged the user was.

A segment closes when the user switches away and the switch lasts (a glance at another window and back does
not close it), after an idle gap, or when it reaches a maximum length or amount of text. A short segment
with no input is a *glance*: kept as evidence and for the timeline, never sent to the model on its own.

Everything here is pure: no clock, no database, no threads. `Segmenter.step` takes one capture and returns
what to store; `gum/intake.py` does the storing. `heartbeat_merge` is the plain merge of an unchanged repeat
into the previous span, after ActivityWatch's aw_transform/heartbeats.py.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

# Suffixes apps add to every window title: they say which app, not which document.
_APP_SUFFIX = re.compile(
    r"\s+[-\u2013\u2014|]\s+(google chrome|chromium|mozilla firefox|firefox|firefox esr|microsoft edge|brave|"
    r"safari|opera|vivaldi|mousepad|gedit|text editor|kate|visual studio code|code - oss|vs ?code|"
    r"libreoffice \w+|thunderbird|slack|discord|obsidian|notion|zoom|xterm|terminal|konsole|"
    r"gnome-terminal|alacritty|kitty)\s*$",
    re.IGNORECASE,
)
# "Inbox (3)", "(2) Slack", "[4] Chat": counters that change while the document stays the same.
_COUNTER = re.compile(r"\s*[(\[]\d+(?: new| unread)?[)\]]\s*", re.IGNORECASE)
# "*notes.txt", "notes.txt •", "● main.py": unsaved marks.
_UNSAVED = re.compile(r"^\s*[*\u25cf\u2022]\s*|\s*[*\u25cf\u2022]\s*$")


def strip_title(title: str) -> str:
    """A window title without its app suffix, counters and unsaved marks, in its own case."""
    t = " ".join((title or "").split())
    for _ in range(3):  # "(2) *notes.txt - Mousepad": each rule may uncover another
        before = t
        t = _APP_SUFFIX.sub("", t)
        t = _COUNTER.sub(" ", t).strip()
        t = _UNSAVED.sub("", t).strip()
        if t == before:
            break
    return t


def normalize_title(title: str) -> str:
    """A window title reduced to the document it names: no app suffix, counter or unsaved mark."""
    return strip_title(title).lower()


# Titles a window has for a moment while it loads or before it has a document: not an activity of their own.
_TRANSIENT = re.compile(r"^(new tab|untitled|loading\b.*|about:blank|blank page|new window|connecting\b.*)$",
                        re.IGNORECASE)


def transient(window: str) -> bool:
    """A placeholder title ("New Tab - Chromium", "Untitled", "Loading..."): a moment between activities."""
    t = normalize_title(window)
    return bool(t) and bool(_TRANSIENT.match(t.rstrip(".… ")))


def start_page(window: str) -> bool:
    """A browser's new-tab or blank page: what it shows there (suggested sites, news tiles, a store link) is
    the browser's, not the user's, even while the user types an address into it."""
    return transient(window) and not normalize_title(window).startswith("untitled")


def doc_key(observer: str, app: str, window: str) -> tuple[str, str, str]:
    """What makes two captures one activity: the same source, app and normalised document title."""
    return observer, (app or "").strip().lower(), normalize_title(window)


@dataclass
class Span:
    """A stretch of time something stayed the same (ActivityWatch's event: timestamp, duration, data)."""

    start: datetime
    end: datetime
    data: tuple


def heartbeat_merge(last: Span | None, beat: Span, pulsetime: timedelta) -> Span | None:
    """`last` extended to cover `beat` when they carry the same data and `beat` starts within `pulsetime` of
    `last`'s end; None when `beat` must start a new span (pure: neither argument is changed)."""
    if last is None or last.data != beat.data:
        return None
    if not (last.start <= beat.start <= last.end + pulsetime):
        return None
    return Span(last.start, max(last.end, beat.end), last.data)


_SERIAL = itertools.count()


@dataclass(frozen=True)
class Rules:
    """When a segment closes and what counts as a glance."""

    switch_lasts: timedelta = timedelta(seconds=20)  # away this long (or with input elsewhere): a real switch
    idle_gap: timedelta = timedelta(minutes=6)  # no capture for this long: the activity ended
    max_length: timedelta = timedelta(minutes=15)
    max_chars: int = 1400  # about one model call's worth of new text
    glance_max: timedelta = timedelta(seconds=10)  # shorter than this, with no input: a glance


@dataclass
class Capture:
    """One capture as the segmenter sees it: already redacted, with its lines of text."""

    observer: str
    app: str
    window: str
    ts: datetime
    ts_end: datetime
    lines: list[str]
    engagement: dict = field(default_factory=dict)  # keys, clicks, scrolls since the previous capture
    measured: bool = False  # engagement was measured (a live capture), not unknown (a recorded file)
    serial: int = field(default_factory=lambda: next(_SERIAL))

    @property
    def key(self) -> tuple[str, str, str]:
        if not (self.app or self.window) and not self.measured:
            # A recording that does not say which app or document it shows (a plain folder of screenshots):
            # nothing tells it to be the same activity as its neighbours. (Live, with no window manager to
            # name windows, the screen's captures are one activity until it closes by time or text.)
            return self.observer, "", f"@{self.ts.isoformat()}#{self.serial}"
        return doc_key(self.observer, self.app, self.window)


@dataclass
class Segment:
    """An open or closed activity: one app and document, its span, new text and engagement."""

    key: tuple[str, str, str]
    observer: str
    app: str
    window: str
    start: datetime
    end: datetime
    lines: list[str] = field(default_factory=list)
    seen: set = field(default_factory=set)  # normalised lines already in this segment
    keys: int = 0
    clicks: int = 0
    scrolls: int = 0
    captures: int = 0
    later_inputs: int = 0  # input after the first capture: what the first one carries may predate a switch
    measured: bool = False
    chars: int = 0
    id: int | None = None  # the observation row that holds it, once stored
    closed: str = ""  # why it closed: switch, idle, length, text, stop

    @property
    def inputs(self) -> int:
        return self.keys + self.clicks + self.scrolls

    @property
    def dwell(self) -> timedelta:
        return self.end - self.start

    def is_glance(self, rules: Rules) -> bool:
        """Short and untouched: seen in passing. Only a measured segment can be a glance (a recorded file
        does not say whether the user typed)."""
        return self.measured and self.inputs == 0 and self.dwell < rules.glance_max

    def text(self) -> str:
        return "\n".join(self.lines)

    def add(self, cap: Capture) -> None:
        """Take in a capture of the same activity: its new lines, input counts and time."""
        self.end = max(self.end, cap.ts_end)
        self.window = cap.window or self.window  # the latest raw title ("Inbox (4)" after "Inbox (3)")
        self.captures += 1
        self.measured = self.measured or cap.measured
        for k in ("keys", "clicks", "scrolls"):
            n = int(cap.engagement.get(k, 0) or 0)
            setattr(self, k, getattr(self, k) + n)
            if self.captures > 1:
                self.later_inputs += n
        # A line already in an earlier capture of this activity is not new; within one capture every line
        # stays as it was (a single capture reads exactly as captured).
        before = set(self.seen)
        for line in cap.lines:
            norm = normalize_line(line)
            if not norm:
                if self.lines and self.lines[-1]:
                    self.lines.append("")
                continue
            if norm in before:
                continue
            self.seen.add(norm)
            self.lines.append(line)
            self.chars += len(line) + 1
        while self.lines and not self.lines[-1]:
            self.lines.pop()


def normalize_line(line: str) -> str:
    """A line of screen text as compared between captures: case, spacing, digits and punctuation folded
    (a clock in a status bar or an unread count does not make a line new)."""
    t = re.sub(r"\d", "0", line.lower())
    t = re.sub(r"[^\w]+", " ", t)
    return " ".join(t.split())


def new_segment(cap: Capture) -> Segment:
    seg = Segment(key=cap.key, observer=cap.observer, app=cap.app, window=cap.window, start=cap.ts,
                  end=cap.ts_end)
    seg.add(cap)
    return seg


@dataclass
class Step:
    """What one capture did: the segment it went into, and the segments it closed (in order)."""

    current: Segment
    closed: list[Segment] = field(default_factory=list)
    resumed: bool = False  # `current` is an earlier segment the user came back to after a glance


class Segmenter:
    """Groups captures into segments, one open segment per source (monitor, observer). No I/O.

    On a switch the old segment is held for `switch_lasts`: if the user comes back before that, untouched,
    the interruption is closed as a glance and the old segment continues.
    """

    def __init__(self, rules: Rules | None = None):
        self.rules = rules or Rules()
        self.open: dict[str, Segment] = {}
        self.held: dict[str, Segment] = {}  # the segment a switch left, until the switch lasts

    def step(self, cap: Capture) -> Step:
        r = self.rules
        src = cap.observer
        cur, held = self.open.get(src), self.held.get(src)
        closed: list[Segment] = []
        if cur is not None and cap.ts - cur.end > r.idle_gap:
            closed += self._close(src, "idle")
            cur, held = None, None
        if cur is not None and cur.key == cap.key:
            cur.add(cap)
            if cur.dwell >= r.max_length or cur.chars >= r.max_chars:
                closed += self._close(src, "length" if cur.dwell >= r.max_length else "text")
            else:
                closed += self._settle(src, cap.ts)
            return Step(cur, closed)
        if held is not None and held.key == cap.key and cur is not None and not self._lasted(cur, cap.ts):
            # Back to where the user was: the interruption was a glance (or a short look), not a switch.
            cur.end = max(cur.end, cap.ts)
            cur.closed = "switch"
            closed.append(cur)
            del self.held[src]
            held.add(cap)
            self.open[src] = held
            return Step(held, closed, resumed=True)
        if cur is not None:
            cur.end = max(cur.end, cap.ts)  # it lasted until the switch
            if held is not None:
                closed += self._release(src)
            self.held[src] = cur
        seg = new_segment(cap)
        self.open[src] = seg
        if seg.chars >= r.max_chars:  # one capture can hold a page of text on its own
            closed += self._close(src, "text")
        else:
            closed += self._settle(src, cap.ts)
        return Step(seg, closed)

    def due(self, now: datetime) -> list[Segment]:
        """Close what time alone has closed: a switch that lasted, an idle gap, a maximum length."""
        closed: list[Segment] = []
        for src in list(self.open):
            closed += self._settle(src, now)
            cur = self.open.get(src)
            if cur is not None and (now - cur.end > self.rules.idle_gap or now - cur.start >= self.rules.max_length):
                closed += self._close(src, "idle" if now - cur.end > self.rules.idle_gap else "length")
        return closed

    def close_all(self, why: str = "stop") -> list[Segment]:
        closed: list[Segment] = []
        for src in list(self.open) + list(self.held):
            closed += self._close(src, why)
        return closed

    # -- internals ---------------------------------------------------------------------------------

    def _lasted(self, seg: Segment, now: datetime) -> bool:
        return seg.later_inputs > 0 or now - seg.start >= self.rules.switch_lasts

    def _settle(self, src: str, now: datetime) -> list[Segment]:
        cur, held = self.open.get(src), self.held.get(src)
        if held is not None and (cur is None or self._lasted(cur, now)):
            return self._release(src)
        return []

    def _release(self, src: str) -> list[Segment]:
        held = self.held.pop(src)
        held.closed = held.closed or "switch"
        return [held]

    def _close(self, src: str, why: str) -> list[Segment]:
        out = []
        if src in self.held:
            out += self._release(src)
        cur = self.open.pop(src, None)
        if cur is not None:
            cur.closed = why
            out.append(cur)
        return out
