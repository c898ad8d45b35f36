"""A seeded day for the timeline's tests and benchmark: activity segments across apps, input minutes, an idle
gap, a paused hour, an excluded window, and propositions learned from the segments."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from gum.records import Observation, Proposition
from gum.timeline import day_bounds

# (app, title, from, to, keys, clicks, scrolls, text): local times of the day.
SEGMENTS = [
    ("firefox", "Stripe careers - Mozilla Firefox", "09:00", "09:40", 120, 30, 40,
     "Backend Engineer, Payments. Apply now. Stripe, Dublin"),
    ("mousepad", "cover-letter.txt - Mousepad", "09:40", "10:30", 900, 12, 0,
     "Dear Stripe hiring team, I have built payment systems for six years"),
    ("firefox", "The Rust Book - Mozilla Firefox", "10:30", "10:50", 0, 0, 80,
     "Chapter 4: Understanding Ownership"),
    # 10:50-11:30: nothing (idle)
    ("xterm", "~/src/tracer - cargo", "11:30", "12:00", 400, 5, 0, "cargo build --release; error[E0382]"),
    # 12:00-13:00: paused
    ("firefox", "Stripe careers - Mozilla Firefox", "13:00", "13:20", 10, 8, 20, "Application submitted"),
    # 13:20-13:35: an excluded window (a password manager)
    ("mousepad", "notes.txt - Mousepad", "13:35", "14:00", 300, 2, 0, "Interview prep: system design"),
]
# Minutes with input (local from-to): the reading of the Rust book (10:30-10:50) has none, so it is passive.
INPUT_MINUTES = [("09:00", "09:30"), ("09:40", "10:30"), ("11:30", "12:00"), ("13:00", "13:05"), ("13:35", "14:00")]
PAUSED = ("12:00", "13:00")
EXCLUDED = ("13:20", "13:35")


@dataclass
class SeededDay:
    """What seed_day stored, by name."""

    day: date
    start: datetime
    segments: list[int] = field(default_factory=list)
    props: dict[str, int] = field(default_factory=dict)

    def at(self, hhmm: str) -> datetime:
        h, m = (int(x) for x in hhmm.split(":"))
        return self.start + timedelta(hours=h, minutes=m)


def segment(store, app: str, title: str, ts: datetime, ts_end: datetime, keys=0, clicks=0, scrolls=0,
            text: str = "", observer: str = "screen", kind: str = "activity") -> int:
    """Store an activity segment as the intake closes one."""
    meta = {"segment": {"state": "closed", "captures": 3, "closed": "switch", "kind": kind},
            "engagement": {"keys": keys, "clicks": clicks, "scrolls": scrolls,
                           "dwell_s": (ts_end - ts).total_seconds()}}
    return store.add_observation(Observation(observer, text, ts=ts, ts_end=ts_end, app=app, window=title, meta=meta),
                                 merge_within=None, enqueue=False)[0]


def input_minute(store, end: datetime, keys=20, clicks=2, scrolls=0) -> int:
    """An input summary as the input observer writes one at the end of its minute."""
    meta = {"queue": False, "input": {"keys": keys, "clicks": clicks, "scrolls": scrolls, "moves": 10, "bursts": 2,
                                      "active_s": 20.0, "period_s": 60.0, "afk": False, "idle_s": 1.0}}
    return store.add_observation(Observation("input", f"Input activity over 60 s: {keys} key presses", ts=end,
                                             meta=meta), merge_within=None, enqueue=False)[0]


def seed_day(store, day: date, tz=None, *, learned: bool = True) -> SeededDay:
    """The day above in `store`; with `learned`, propositions created, revised, confirmed and revoked now
    (their events fall on today, whatever `day` is)."""
    start, _ = day_bounds(day, tz)
    s = SeededDay(day, start)
    for app, title, a, b, keys, clicks, scrolls, text in SEGMENTS:
        s.segments.append(segment(store, app, title, s.at(a), s.at(b), keys, clicks, scrolls, text))
    for a, b in INPUT_MINUTES:
        t = s.at(a) + timedelta(minutes=1)
        while t <= s.at(b):
            input_minute(store, t)
            t += timedelta(minutes=1)
    store.note_unrecorded("paused", s.at(PAUSED[0]), s.at(PAUSED[1]))
    store.note_unrecorded("excluded", s.at(EXCLUDED[0]), s.at(EXCLUDED[1]))
    if learned:
        careers, letter, rust, tracer = s.segments[0], s.segments[1], s.segments[2], s.segments[3]
        s.props["job"] = store.insert_proposition(
            Proposition(text="Priya is applying for a backend engineer job at Stripe", confidence=7, decay=6),
            [careers, s.segments[4]])
        v1 = store.insert_proposition(Proposition(text="Priya writes a cover letter", confidence=5, decay=4), [letter])
        s.props["letter_v1"] = v1
        s.props["letter"] = store.revise(v1, Proposition(text="Priya writes a cover letter for Stripe", confidence=6,
                                                         decay=4), [letter])
        s.props["rust"] = store.insert_proposition(Proposition(text="Priya is learning Rust", confidence=6, decay=7),
                                                   [rust, tracer])
        s.props["secret"] = store.insert_proposition(
            Proposition(text="Priya has a secret side project", confidence=4, decay=5), [tracer])
        store.confirm(s.props["job"])
        store.revoke(s.props["secret"])
    return s

