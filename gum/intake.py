"""The one way an observation gets into gum, whoever made it: an observer under `gum start`, `gum ingest`,
the Python API, a plugin.

In order: observing paused -> dropped; an excluded app or window -> dropped; secrets redacted (text, window,
app); lines written for an AI replaced by a marker (gum/injection.py); then stored in one transaction. How
it is stored depends on the source:

- Screen text, transcripts and queued window observations become **activity segments** (gum/segments.py):
  consecutive captures of one app and document form one stored observation that grows while the activity
  lasts. Before the segmenter sees a capture, lines that are not content are removed: OCR garbage, and
  lines that recur across documents of the same app (tab strips, menus, nav bars, footers), learned per app.
  When a segment closes, what the model reads is what was new in it: a glance costs no call; a revisit of
  something the model has already read attaches to what that reading yielded instead of costing a call;
  the rest is queued, most engaged first.
- Everything else (input summaries, window heartbeats while the screen runs, notifications, calendar
  events) is stored as it comes, an unchanged repeat extending the previous one (a heartbeat).

`mode="captures"` keeps the old per-capture processing (every capture queued on its own) for comparison:
the desk benchmark runs both.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

from .injection import strip as strip_injection
from .privacy import Exclusions, Redactor
from .records import Observation, utcnow
from .segments import Capture, Rules, Segment, Segmenter, doc_key, normalize_line, transient
from .store import Store

log = logging.getLogger("gum.intake")

MERGE_WITHIN = timedelta(minutes=2)  # an unchanged repeat within this extends the previous observation
CHROME_DOCS = 4  # a line seen in this many documents of one app is part of the app, not of a document
READ_RECENTLY = timedelta(days=7)  # text the model read within this is not read again
MIN_FRESH_CHARS = 40  # less new text than this in a revisit: no call, it attaches to the earlier reading
MAX_TEXT = 20000  # characters a segment keeps (the model reads at most a few thousand of them)
SEGMENTED = ("text", "window")  # besides screen, screen:2, ...

_TOKEN = re.compile(r"\S+")


def line_hash(norm: str) -> str:
    return hashlib.blake2b(norm.encode("utf-8", "replace"), digest_size=8).hexdigest()


def content_lines(text: str) -> list[str]:
    """The lines of a capture that can be content, as they were written (spacing kept, runs of blank lines
    made one): OCR garbage (a line of stray marks, a run of one- and two-letter shards such as a tab strip
    read badly) is dropped."""
    out: list[str] = []
    for raw in (text or "").splitlines():
        line = raw.rstrip()
        if not line.strip():
            if out and out[-1]:
                out.append("")  # a paragraph or a chat turn ends here
            continue
        alnum = sum(c.isalnum() for c in line)
        visible = sum(not c.isspace() for c in line)
        if alnum < 2 or alnum < 0.35 * visible:
            continue
        tokens = _TOKEN.findall(line)
        if len(tokens) >= 6 and sum(len(t) <= 2 for t in tokens) >= 0.8 * len(tokens):
            continue
        out.append(line)
    while out and not out[-1]:
        out.pop()
    return out


def segmented(obs: Observation) -> bool:
    """Whether this observation is part of an activity the model should read as a whole."""
    if obs.meta.get("queue", True) is False:
        return False
    return obs.observer.startswith("screen") or obs.observer in SEGMENTED


def priority(seg: Segment) -> float:
    """How much a segment deserves a model call soon: input and dwell (unmeasured: the middle)."""
    if not seg.measured:
        return 0.5
    dwell = seg.dwell.total_seconds()
    return round(min(1.0, 0.15 + 0.5 * min(1.0, seg.inputs / 40) + 0.35 * min(1.0, dwell / 300)), 3)


class Intake:
    """Redacts, filters and stores observations; groups captures into activity segments. Thread-safe."""

    def __init__(
        self,
        store: Callable[[], Store],
        *,
        redactor: Redactor | None = None,
        exclusions: Exclusions | None = None,
        paused: Callable[[], bool] | None = None,
        mode: str = "segments",
        rules: Rules | None = None,
        on_evidence: Callable[[list[int]], None] | None = None,
    ):
        if mode not in ("segments", "captures"):
            raise ValueError(f"intake mode must be 'segments' or 'captures', not {mode!r}")
        self._store = store
        self.redactor = redactor or Redactor()
        self.exclusions = exclusions or Exclusions()
        self.paused = paused or (lambda: False)
        self.mode = mode
        self.segmenter = Segmenter(rules)
        self.on_evidence = on_evidence
        self.counts: Counter = Counter()
        self._meta: dict[int, dict] = {}  # the first capture's meta of each open segment (monitor, source...)
        self._lock = threading.Lock()
        self._as_of: tuple | None = None  # (store, data version) the segmenter's recorded segments match

    # -- the way in --------------------------------------------------------------------------------

    def add(self, obs: Observation, *, identity: Callable[[Observation], str] | None = None) -> int | None:
        """Store an observation; returns the id of the row that holds it, or None if it was dropped.

        `identity` marks recorded input (gum/ingest.py): it names the observation once redacted, and what was
        stored before under that name is not stored again (counted as "existing")."""
        if self.paused():
            self.counts["paused"] += 1
            return None
        if (obs.app or obs.window) and self.exclusions.matches(obs.app, obs.window):
            self.counts["excluded"] += 1
            return None
        # Lines written for an AI are not facts about the user: not stored, not shown to the model. Before
        # redaction, which would hide an encoded payload inside a [REDACTED] placeholder.
        obs.text, injected = strip_injection(obs.text or "")
        if injected:
            obs.meta["injection"] = obs.meta.get("injection", 0) + injected
        hits = 0
        for attr in ("text", "window", "app"):
            value, n = self.redactor.redact_counting(getattr(obs, attr) or "")
            setattr(obs, attr, value)
            hits += n
        if hits:
            obs.meta["redactions"] = obs.meta.get("redactions", 0) + hits
        with self._lock:
            self.counts["captures"] += 1
            if identity is not None:
                return self._add_recorded(obs, identity(obs))
            if self.mode == "segments" and segmented(obs):
                obs.id = self._add_to_segment(obs)  # the caller sees the row that holds its capture
                return obs.id
            return self._add_plain(obs)

    def due(self, now: datetime | None = None) -> int:
        """Close the segments time alone has closed (a switch that lasted, an idle gap). Returns how many."""
        with self._lock:
            closed = self.segmenter.due(now or utcnow())
            self._finish_all(closed)
        return len(closed)

    def close_all(self, why: str = "stop", *, recorded: bool = False) -> int:
        """Close every open segment (the agent stops, an ingest ends); with `recorded`, the open segments of
        recorded input as the database has them (see _add_recorded)."""
        with self._lock:
            if not recorded:
                closed = self.segmenter.close_all(why)
                self._finish_all(closed)
                return len(closed)
            store = self._store()
            self._as_of = None  # always from the database: this is the last word on what is open
            with store.transaction():
                self._resume_recorded(store)
                closed = self.segmenter.close_all(why)
                self._finish_all(closed, store)
        return len(closed)

    def recover(self) -> int:
        """Close the segments a previous run left open (it was killed): nothing it saw is lost."""
        store = self._store()
        n = 0
        with self._lock:
            for obs in store.open_segments():
                seg = _segment_from_row(obs)
                seg.closed = "restart"
                self._finish(store, seg)
                n += 1
        return n

    def stats(self) -> dict:
        """Counters for the status: captures taken in, rows stored, segments closed and what became of them."""
        c = self.counts
        return {k: c.get(k, 0) for k in ("captures", "stored", "merged", "existing", "segments", "queued",
                                         "glances", "known", "empty", "paused", "excluded", "chrome_lines", "transient")}

    # -- recorded input: stored once, however often it is ingested ----------------------------------

    def _add_recorded(self, obs: Observation, identity: str) -> int | None:
        """Claim the identity, store the observation and bind the identity to its row, in one transaction: a
        second ingest of the same input (after a crash, or running at the same time) stores nothing twice.

        The segmenter starts from the open segments as the database has them, not from memory: an ingest
        killed half-way, or another one running beside this one, may have moved them on. So an ingest that
        is interrupted and run again forms the same activities as one uninterrupted run.
        """
        store = self._store()
        try:
            with store.transaction():
                if not store.claim_identity(identity):
                    self.counts["existing"] += 1
                    return store.source_observation(identity)
                if self.mode == "segments" and segmented(obs):
                    self._resume_recorded(store)
                    obs_id = self._add_to_segment(obs)
                else:
                    obs_id = self._add_plain(obs)
                store.bind_identity(identity, obs_id)
        except BaseException:
            self._as_of = None  # rolled back: what the segmenter holds is no longer what the database has
            raise
        return obs_id

    def _resume_recorded(self, store: Store) -> None:
        """Take the open segments of recorded input from the database, unless nobody else wrote to it since
        this intake last did (then the segmenter already holds them). Call inside a write transaction."""
        as_of = (store, store.data_version())  # the store itself, not its id: versions are per connection
        if as_of == self._as_of:
            return
        self._as_of = as_of
        self.segmenter.open.clear()
        self.segmenter.held.clear()
        by_source: dict[str, list[Observation]] = {}
        for row in store.open_segments(recorded=True):
            by_source.setdefault(row.observer, []).append(row)
        for src, rows in by_source.items():
            rows.sort(key=lambda o: (o.ts, o.id))
            # The newest is the one being extended; an older one is held by a switch that has not lasted yet.
            self.segmenter.open[src] = _segment_from_row(rows[-1])
            if len(rows) > 1:
                self.segmenter.held[src] = _segment_from_row(rows[-2])
            for row in rows[-2:]:
                self._meta.setdefault(row.id, {k: v for k, v in row.meta.items()
                                               if k not in ("segment", "engagement", "repeats")})

    # -- plain observations: stored as they come, heartbeats merged -----------------------------------

    def _add_plain(self, obs: Observation) -> int:
        # Input summaries are evidence of engagement for what is around them, never read by the model.
        queue = obs.meta.get("queue", True) is not False and obs.observer != "input"
        engagement = obs.meta.get("engagement")
        if engagement is not None:
            obs.meta["engagement"] = {**engagement, "dwell_s": 0}
        store = self._store()
        with store.transaction():
            obs_id, merged = store.add_observation(obs, merge_within=MERGE_WITHIN, enqueue=queue)
            if merged and engagement is not None:
                store.merge_engagement(obs_id, engagement)
        self.counts["merged" if merged else "stored"] += 1
        if queue and not merged:
            self.counts["queued"] += 1
        return obs_id

    # -- segments -----------------------------------------------------------------------------------

    def _add_to_segment(self, obs: Observation) -> int | None:
        if transient(obs.window) and not obs.meta.get("engagement", {}).get("keys"):
            # A tab still loading, an untitled window: it neither starts an activity nor splits one.
            self.counts["transient"] += 1
            return None
        store = self._store()
        lines = content_lines(obs.text)
        app = (obs.app or "").strip().lower()
        with store.transaction():
            if app and lines:
                # Learn from every capture, before removing: what this app shows in every document.
                hashes = [line_hash(normalize_line(x)) for x in lines]
                doc = line_hash("\x00".join(doc_key(obs.observer, obs.app, obs.window)))
                chrome = store.chrome_lines(app, hashes, CHROME_DOCS)
                store.learn_lines(app, doc, hashes)
                if chrome:
                    self.counts["chrome_lines"] += sum(h in chrome for h in hashes)
                    lines = [x for x, h in zip(lines, hashes) if h not in chrome]
            eng = obs.meta.get("engagement")
            cap = Capture(observer=obs.observer, app=obs.app, window=obs.window, ts=obs.ts,
                          ts_end=obs.ts_end or obs.ts, lines=lines, engagement=eng or {},
                          measured=eng is not None)
            step = self.segmenter.step(cap)
            seg = step.current
            if seg.id is None:
                meta = {k: v for k, v in obs.meta.items() if k != "engagement"}
                seg.id, _ = store.add_observation(self._row(seg, obs.image_path, meta), merge_within=None,
                                                  enqueue=False)
                self.counts["stored"] += 1
                self._meta[seg.id] = meta
            else:
                row = self._row(seg, obs.image_path, self._meta.get(seg.id, {}))
                row.id = seg.id
                store.update_observation(row)
                self.counts["merged"] += 1
            # After the current one is stored: a capture can close the segment it opened (a page of text).
            self._finish_all(step.closed, store)
        return seg.id

    def _row(self, seg: Segment, image_path: str | None, meta: dict, *, state: str = "open",
             text: str | None = None, extra: dict | None = None) -> Observation:
        meta = {**meta, "segment": {"state": state, "captures": seg.captures, **(extra or {})}}
        if seg.measured:
            meta["engagement"] = {"keys": seg.keys, "clicks": seg.clicks, "scrolls": seg.scrolls,
                                  "dwell_s": round(seg.dwell.total_seconds(), 1)}
        body = seg.text() if text is None else text
        return Observation(observer=seg.observer, text=body[:MAX_TEXT], ts=seg.start, ts_end=seg.end,
                           app=seg.app, window=seg.window, image_path=image_path, meta=meta)

    def _finish_all(self, closed: list[Segment], store: Store | None = None) -> None:
        if not closed:
            return
        store = store or self._store()
        with store.transaction():
            for seg in closed:
                self._finish(store, seg)

    def _finish(self, store: Store, seg: Segment) -> None:
        """A segment closed: decide whether the model reads it, and write that down with it."""
        if seg.id is None:
            return
        meta = self._meta.pop(seg.id, None)
        if meta is None:  # recovered from the database: its stored meta is the one to keep
            meta = {k: v for k, v in store.get_observation(seg.id).meta.items()
                    if k not in ("segment", "engagement", "repeats")}
        self.counts["segments"] += 1
        rules = self.segmenter.rules
        # A blank line (a paragraph break) is never "already read": only lines with words are remembered.
        hashes = [line_hash(normalize_line(x)) if normalize_line(x) else "" for x in seg.lines]
        extra = {"closed": seg.closed}
        touched: list[int] = []
        if seg.is_glance(rules):
            kind = "glance"
        elif not seg.lines:
            kind = "empty"
        else:
            worded = [h for h in hashes if h]
            known = store.read_before(worded, since=seg.start - READ_RECENTLY, exclude=seg.id)
            fresh = [x for x, h in zip(seg.lines, hashes) if h and h not in known]
            if known:
                extra["known_lines"] = sum(h in known for h in worded)
            if known and sum(len(x) + 1 for x in fresh) < MIN_FRESH_CHARS:
                kind = "known"
                touched = store.link_repeats(seg.id, set(known.values()))
            else:
                # Enough is new: the model reads the whole activity, the lines it has seen included (they are
                # the context of the new ones: who an email is to, which project a terminal is in), and the
                # earlier reading stays linked as evidence of the same.
                kind = "activity"
                if known:
                    store.link_repeats(seg.id, set(known.values()))
                store.mark_read(worded, seg.id, seg.end)
        extra["kind"] = kind
        row = self._row(seg, None, meta, state="closed", extra=extra)
        row.id = seg.id
        store.update_observation(row)
        if kind == "activity":
            store.enqueue(seg.id, priority(seg))
            self.counts["queued"] += 1
        else:
            self.counts["glances" if kind == "glance" else kind] += 1
        if touched and self.on_evidence is not None:
            try:
                self.on_evidence(touched)
            except Exception:  # confidence is refreshed again at consolidation
                log.exception("refreshing confidence after a repeat failed")


def _segment_from_row(obs: Observation) -> Segment:
    """An open segment as stored, for closing it after a restart."""
    eng = obs.meta.get("engagement")
    seg = Segment(key=doc_key(obs.observer, obs.app, obs.window), observer=obs.observer, app=obs.app,
                  window=obs.window, start=obs.ts, end=obs.ts_end or obs.ts,
                  captures=int(obs.meta.get("segment", {}).get("captures", 1)), measured=eng is not None, id=obs.id)
    if eng:
        seg.keys, seg.clicks, seg.scrolls = (int(eng.get(k, 0)) for k in ("keys", "clicks", "scrolls"))
    seg.lines = content_lines(obs.text)
    seg.seen = {normalize_line(x) for x in seg.lines}
    seg.chars = sum(len(x) + 1 for x in seg.lines)
    if not (obs.app or obs.window) and not seg.measured:  # as Capture.key: a recording that names no document
        seg.key = (obs.observer, "", f"@{obs.ts.isoformat()}")
    return seg
