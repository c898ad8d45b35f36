"""A day at a glance: what the user did, when, how actively, and what gum learned from it.

One local day (the user's own midnight to midnight, 23 or 25 hours on a daylight-saving change) becomes:

- **lanes**, one per app, of **blocks**: the activity segments (gum/segments.py) of that app, clipped to the
  day (a segment that crosses midnight shows in both days, marked as cut);
- **gaps**: stretches with nothing recorded between the first and the last activity (idle or away), and the
  spans gum was told not to record (observing paused, an excluded window in front), which show as such and
  never with what was on screen;
- **totals** per app and per activity (app and document) for the day and for the seven days ending with it:
  time on screen, with overlapping segments (two monitors, a window and a screen segment) counted once, split
  into active time (the user typed, clicked or scrolled in that minute, from the input observer's summaries)
  and passive time (reading, watching);
- **learned**: the propositions created, revised, confirmed, rejected, revoked or added that day, each with
  the segments of the day that are its evidence.

`build` is pure (plain records in, a `Day` out); `load` reads what it needs through the Store.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo
from itertools import pairwise

from .records import Observation, Proposition
from .segments import normalize_title

IDLE_GAP = timedelta(minutes=5)  # nothing recorded for this long between two activities: idle or away
WEEK_DAYS = 7
INPUT_PERIOD_S = 60.0  # an input summary without its period covers the minute before it
UNKNOWN_APP = "unknown app"

Interval = tuple[datetime, datetime]


# -- intervals ------------------------------------------------------------------------------------------


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """The union of intervals as sorted, disjoint intervals (touching ones joined)."""
    out: list[list[datetime]] = []
    for a, b in sorted(i for i in intervals if i[1] > i[0]):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def intersect(xs: list[Interval], ys: list[Interval]) -> list[Interval]:
    """The intersection of two merged interval lists (the longer is best second: it is entered by bisection)."""
    if not xs or not ys:
        return []
    out, i = [], 0
    j = bisect.bisect_right(ys, (xs[0][0], xs[0][0])) - 1 if len(ys) > 8 else 0  # the first that can overlap
    j = max(j, 0)
    while i < len(xs) and j < len(ys):
        if ys[j][0] >= xs[-1][1]:
            break
        a, b = max(xs[i][0], ys[j][0]), min(xs[i][1], ys[j][1])
        if a < b:
            out.append((a, b))
        if xs[i][1] < ys[j][1]:
            i += 1
        else:
            j += 1
    return out


class Coverage:
    """How much of any interval a merged interval list covers, in O(log n) (prefix sums over its lengths)."""

    def __init__(self, merged: list[Interval]):
        self.starts = [a.timestamp() for a, _ in merged]
        self.ends = [b.timestamp() for _, b in merged]
        self.cum = [0.0]
        for a, b in zip(self.starts, self.ends):
            self.cum.append(self.cum[-1] + b - a)

    def within(self, a: datetime, b: datetime) -> float:
        """Seconds of [a, b) covered."""
        x, y = a.timestamp(), b.timestamp()
        i = bisect.bisect_right(self.ends, x)  # the first interval that ends after a
        j = bisect.bisect_left(self.starts, y)  # the intervals that start before b end at j
        if i >= j:
            return 0.0
        total = self.cum[j] - self.cum[i]
        total -= max(0.0, x - self.starts[i])  # the part of the first one before a
        total -= max(0.0, self.ends[j - 1] - y)  # the part of the last one after b
        return max(0.0, total)

    def of(self, intervals: Iterable[Interval]) -> float:
        return sum(self.within(a, b) for a, b in intervals)


def seconds(intervals: Iterable[Interval]) -> float:
    return sum((b - a).total_seconds() for a, b in intervals)


def clip(a: datetime, b: datetime, start: datetime, end: datetime) -> Interval | None:
    a, b = max(a, start), min(b, end)
    return (a, b) if b > a else None


# -- the user's day -------------------------------------------------------------------------------------


def day_bounds(day: date, tz: tzinfo | None = None) -> Interval:
    """[local midnight, next local midnight) of `day` in UTC; `tz` None is the machine's own time zone (TZ),
    daylight saving included."""
    def midnight(d: date) -> datetime:
        if tz is None:
            return datetime(d.year, d.month, d.day).astimezone(timezone.utc)  # a naive time is local time
        return datetime(d.year, d.month, d.day, tzinfo=tz).astimezone(timezone.utc)

    return midnight(day), midnight(day + timedelta(days=1))


def local_day(moment: datetime, tz: tzinfo | None = None) -> date:
    """The user's calendar day at `moment`."""
    return (moment.astimezone(tz) if tz is not None else moment.astimezone()).date()


# -- what a day is made of --------------------------------------------------------------------------------


@dataclass
class Block:
    """One activity segment as the day shows it (clipped to the day)."""

    id: int
    app: str  # the lane: the app's name, lower case ("" when no window manager names it)
    label: str  # the app as it names itself
    title: str  # the window title (what the document is)
    start: datetime
    end: datetime
    kind: str  # what became of the segment: activity, glance, known, empty; open while it still grows
    keys: int = 0
    clicks: int = 0
    scrolls: int = 0
    dwell_s: float = 0.0  # the whole segment's, also when the day shows only part of it
    active_s: float = 0.0  # of the part in this day
    captures: int = 1
    measured: bool = False  # input was counted while it lasted (live capture, not a recorded file)
    cut_start: bool = False  # began the day before
    cut_end: bool = False  # goes on into the next day
    excerpt: str = ""
    propositions: list[int] = field(default_factory=list)  # active propositions it is evidence for

    @property
    def inputs(self) -> int:
        return self.keys + self.clicks + self.scrolls

    @property
    def span_s(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass
class Lane:
    """One app's blocks, in time order, with its time on screen (overlaps counted once) and active time."""

    app: str
    label: str
    blocks: list[Block]
    total_s: float
    active_s: float


@dataclass
class Span:
    """A stretch with nothing recorded: idle (or away), paused, or an excluded window in front."""

    start: datetime
    end: datetime
    kind: str  # idle, paused, excluded

    @property
    def span_s(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass
class Total:
    """Time on screen for an app (or one of its activities), split into active and passive."""

    key: str
    label: str
    total_s: float
    active_s: float
    activities: list[Total] = field(default_factory=list)

    @property
    def passive_s(self) -> float:
        return max(0.0, self.total_s - self.active_s)


@dataclass
class Learned:
    """Something that happened to a proposition that day, and the day's segments that are its evidence."""

    action: str  # created, revised, confirmed, rejected, revoked, added
    at: datetime
    proposition: Proposition
    segments: list[int] = field(default_factory=list)
    current_id: int | None = None  # the active version now (a newer revision), if any
    withheld: bool = False  # the user rejected or revoked it (this version or a later one): never shown again

    @property
    def text(self) -> str | None:
        """The proposition's text, unless the user took it back."""
        return None if self.withheld or self.action in ("rejected", "revoked") else self.proposition.text


@dataclass
class Day:
    """One local day at a glance (see the module docstring)."""

    day: date
    start: datetime
    end: datetime
    now: datetime
    lanes: list[Lane]
    gaps: list[Span]  # idle and not-recorded spans, in time order
    totals: list[Total]
    week: list[Total]
    week_start: date
    learned: list[Learned]
    recorded_s: float
    active_s: float
    active_basis: str  # "input": from the input observer's summaries; "segments": from the segments' counts
    propositions: dict[int, Proposition] = field(default_factory=dict)  # the ones blocks are evidence for

    def blocks(self) -> list[Block]:
        """Every block of the day in time order."""
        return sorted((b for lane in self.lanes for b in lane.blocks), key=lambda b: (b.start, b.id))

    def block(self, block_id: int) -> Block | None:
        return next((b for lane in self.lanes for b in lane.blocks if b.id == block_id), None)

    def learned_by_segment(self) -> list[tuple[Block | None, list[Learned]]]:
        """What gum learned, grouped by the segment it came from (in time order); what rests on no segment
        of this day (added by hand, evidence on other days) comes last under None."""
        groups: dict[int | None, list[Learned]] = {}
        for item in self.learned:
            for seg in item.segments or [None]:
                groups.setdefault(seg, []).append(item)
        out = [(self.block(seg), items) for seg, items in groups.items() if seg is not None]
        out.sort(key=lambda g: (g[0].start, g[0].id) if g[0] else (self.end, 0))
        if None in groups:
            out.append((None, groups[None]))
        return out


def is_segment(obs: Observation) -> bool:
    return isinstance(obs.meta.get("segment"), dict)


def active_intervals(inputs: Iterable[Observation]) -> list[Interval]:
    """The minutes the user typed, clicked or scrolled, from the input observer's summaries (each covers
    the period before it was written)."""
    out = []
    for o in inputs:
        counts = o.meta.get("input") or o.meta.get("engagement") or {}
        if not any(int(counts.get(k, 0) or 0) for k in ("keys", "clicks", "scrolls")):
            continue
        period = float(counts.get("period_s") or INPUT_PERIOD_S)
        out.append((o.ts - timedelta(seconds=period), max(o.ts_end or o.ts, o.ts)))
    return merge(out)


def _blocks(segments: Iterable[Observation], start: datetime, end: datetime) -> list[Block]:
    out = []
    for o in segments:
        span = clip(o.ts, o.ts_end or o.ts, start, end)
        if span is None:
            continue
        seg = o.meta.get("segment") or {}
        eng = o.meta.get("engagement")
        e = eng or {}
        app = (o.app or "").strip()
        out.append(Block(
            id=o.id, app=app.lower(), label=app or UNKNOWN_APP, title=o.window or "", start=span[0], end=span[1],
            kind="open" if seg.get("state") == "open" else str(seg.get("kind") or "activity"),
            keys=int(e.get("keys", 0) or 0), clicks=int(e.get("clicks", 0) or 0),
            scrolls=int(e.get("scrolls", 0) or 0),
            dwell_s=float(e.get("dwell_s") or ((o.ts_end or o.ts) - o.ts).total_seconds()),
            captures=int(seg.get("captures", 1) or 1), measured=eng is not None,
            cut_start=o.ts < start, cut_end=(o.ts_end or o.ts) > end, excerpt=o.text or ""))
    return out


def _active_of(blocks: list[Block], active: list[Interval] | None) -> list[Interval]:
    """Where the user was active, as intervals: from input summaries when there are any, else the blocks
    that counted input (without the input observer, a segment with input counts as active throughout)."""
    if active is not None:
        return active
    return merge((b.start, b.end) for b in blocks if b.inputs)


def totals(blocks: list[Block], active: list[Interval] | None, *, by_activity: bool = True) -> list[Total]:
    """Per app (and per activity within it) time on screen and active time, overlaps counted once; the
    longest first. `active` None: no input summaries, active time from the blocks' own counts."""
    act = Coverage(_active_of(blocks, active))
    names: dict[str, str] = {}  # title -> the document it names (a day repeats a few titles many times)
    apps: dict[str, list[Block]] = {}
    for b in blocks:
        apps.setdefault(b.app, []).append(b)
    out = []
    for app, items in apps.items():
        union = merge((b.start, b.end) for b in items)
        t = Total(app, _label(items), seconds(union), act.of(union))
        if by_activity:
            docs: dict[str, list[Block]] = {}
            for b in items:
                if b.title not in names:
                    names[b.title] = normalize_title(b.title)
                docs.setdefault(names[b.title], []).append(b)
            for doc, parts in docs.items():
                u = merge((b.start, b.end) for b in parts)
                title = Counter(b.title for b in parts).most_common(1)[0][0]
                t.activities.append(Total(doc, title, seconds(u), act.of(u)))
            t.activities.sort(key=lambda x: (-x.total_s, x.key))
        out.append(t)
    out.sort(key=lambda x: (-x.total_s, x.key))
    return out


def _label(blocks: list[Block]) -> str:
    return Counter(b.label for b in blocks).most_common(1)[0][0]


def build(
    day: date,
    start: datetime,
    end: datetime,
    observations: list[Observation],
    unrecorded: list[tuple[str, datetime, datetime]] = (),
    *,
    now: datetime | None = None,
    cited: dict[int, list[int]] | None = None,
    propositions: dict[int, Proposition] | None = None,
    events: list[tuple[str, datetime, Proposition]] = (),
    evidence: dict[int, list[int]] | None = None,
    current: dict[int, int] | None = None,
    withheld: Iterable[int] = (),
    week: list[Observation] | None = None,
    week_start_at: datetime | None = None,
    week_start: date | None = None,
) -> Day:
    """The day [start, end) from its observations (activity segments and input summaries overlapping it),
    the not-recorded spans, which propositions cite which segment, and the day's proposition events."""
    now = now or end
    blocks = _blocks((o for o in observations if is_segment(o)), start, end)
    inputs = [o for o in observations if o.observer == "input"]
    active = active_intervals(inputs) if inputs else None
    act = Coverage(_active_of(blocks, active))
    cited = cited or {}
    for b in blocks:
        b.propositions = list(cited.get(b.id, []))
        b.active_s = act.within(b.start, b.end)

    lanes = []
    for t in totals(blocks, active, by_activity=False):
        items = sorted((b for b in blocks if b.app == t.key), key=lambda b: (b.start, b.id))
        lanes.append(Lane(t.key, t.label, items, t.total_s, t.active_s))

    gaps = []
    for reason in ("paused", "excluded"):
        spans = [clip(x, y, start, end) for r, x, y in unrecorded if r == reason]
        gaps += [Span(a, b, reason) for a, b in merge(s for s in spans if s)]
    covered = merge([(b.start, b.end) for b in blocks] + [(g.start, g.end) for g in gaps])
    if covered:
        last = min(covered[-1][1], now)
        holes = [(a[1], b[0]) for a, b in pairwise(covered) if a[1] < last]
        gaps += [Span(a, min(b, last), "idle") for a, b in holes if min(b, last) - a >= IDLE_GAP]
    gaps.sort(key=lambda g: (g.start, g.kind))

    union = merge((b.start, b.end) for b in blocks)
    in_day = {b.id for b in blocks}
    evidence = evidence or {}
    withheld = set(withheld)
    learned = [Learned(action, at, prop, [oid for oid in evidence.get(prop.id, []) if oid in in_day],
                       (current or {}).get(prop.id), prop.id in withheld or prop.status in ("rejected", "revoked"))
               for action, at, prop in events if start <= at < end]

    week_blocks = _blocks((o for o in (week or []) if is_segment(o)), week_start_at or start, end)
    week_inputs = [o for o in (week or []) if o.observer == "input"]
    return Day(
        day=day, start=start, end=end, now=now, lanes=lanes, gaps=gaps,
        totals=totals(blocks, active), week=totals(week_blocks, active_intervals(week_inputs) if week_inputs else None),
        week_start=week_start or day, learned=learned, recorded_s=seconds(union),
        active_s=act.of(union), active_basis="input" if inputs else "segments",
        propositions=dict(propositions or {}),
    )


def load(store, day: date, tz: tzinfo | None = None, *, now: datetime | None = None, excerpt: int = 240) -> Day:
    """The day as the database has it (reads through the Store; `excerpt`: characters of segment text)."""
    from .records import utcnow

    start, end = day_bounds(day, tz)
    first = day - timedelta(days=WEEK_DAYS - 1)
    week_from, _ = day_bounds(first, tz)
    # One read for the week; the day's own rows come with the start of their text.
    week = store.activity(week_from, end, excerpt=excerpt, excerpt_since=start)
    observations = [o for o in week if (o.ts_end or o.ts) >= start]
    segment_ids = [o.id for o in observations if is_segment(o)]
    cited = store.cited_by(segment_ids)
    ids = sorted({pid for pids in cited.values() for pid in pids})
    props = {p.id: p for p in store.get_many(ids)}
    events = store.proposition_events(start, end)
    evidence = store.evidence_ids(sorted({p.id for _, _, p in events}))
    current, withheld = {}, set()
    for pid in {p.id for _, _, p in events if p.status == "superseded"}:  # active: the latest already
        latest = store.current(pid)
        if latest.status in ("rejected", "revoked"):
            withheld.add(pid)
        elif latest.status == "active":
            current[pid] = latest.id
    return build(day, start, end, observations, store.unrecorded(start, end), now=min(now or utcnow(), end),
                 cited=cited, propositions=props, events=events, evidence=evidence, current=current, withheld=withheld,
                 week=week, week_start_at=week_from, week_start=first)


def nothing(day: date) -> Day:
    """A day with nothing in it (one at the very edge of what a datetime can hold)."""
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    return Day(day=day, start=start, end=start, now=start, lanes=[], gaps=[], totals=[], week=[], week_start=day,
               learned=[], recorded_s=0.0, active_s=0.0, active_basis="segments")


# -- as text -----------------------------------------------------------------------------------------------


def duration(s: float, *, short: bool = False) -> str:
    """12 s, 4 min, 2 h 05 min (`short`: 2 h 05, where space is tight)."""
    s = round(s)
    if s < 60:
        return f"{s} s"
    m = s // 60
    return f"{m} min" if m < 60 else f"{m // 60} h {m % 60:02d}" + ("" if short else " min")
