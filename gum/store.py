"""The storage layer: observations, the work queue, propositions with their versions and evidence."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlite_utils import Database

from . import vectors
from .db import open_db
from .errors import InputError, NotFound
from .records import Observation, Proposition, iso, utcnow
from .times import parse_time

# Statuses a user sees by default; superseded versions live in history, revoked and rejected ones never
# show again.
VISIBLE = ("active",)
# Actors whose additions are the user's own: the CLI and the tray (its token is named "tray").
USER_ACTORS = ("user", "tray")
# Propositions the engine must never re-create, nor anything close to them.
BLOCKED = ("revoked", "rejected")

_WORD = re.compile(r"[\w][\w'-]*", re.UNICODE)


def content_hash(observer: str, app: str, window: str, text: str) -> str:
    """A stable hash of what an observation says, used to merge repeats of an unchanged screen."""
    h = hashlib.sha256()
    for part in (observer, app, window, text):
        h.update(part.encode("utf-8", "replace"))
        h.update(b"\x00")
    return h.hexdigest()


def fts_query(text: str) -> str:
    """An FTS5 MATCH expression for free text: every word quoted (so nothing in it is FTS syntax), ORed."""
    words = [w.strip("'-") for w in _WORD.findall(text.lower())]
    words = [w for w in words if len(w) > 1 and w not in STOPWORDS]
    if not words:
        return ""
    seen: list[str] = []
    for w in words:
        if w not in seen:
            seen.append(w)
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in seen[:32])


STOPWORDS = frozenset(
    ["a", "an", "the", "and", "or", "but", "if", "of", "in", "on", "at", "to", "for", "from", "by", "with", "about", "as", "is", "are", "was", "were", "be", "been", "being", "has", "have", "had", "do", "does", "did", "this", "that", "these", "those", "it", "its", "he", "she", "they", "them", "his", "her", "their", "i", "me", "my", "we", "our", "you", "your", "user", "users", "who", "what", "which", "when", "where", "how", "not", "no", "yes", "so", "than", "then", "there", "here", "into", "over", "under", "up", "down", "out", "very", "can", "could", "should", "would", "will", "may", "might", "just", "also"]
)


def _row_to_observation(row: dict) -> Observation:
    return Observation(
        id=row["id"],
        observer=row["observer"],
        text=row["text"],
        ts=parse_time(row["ts"]),
        ts_end=parse_time(row["ts_end"]),
        app=row["app"],
        window=row["window"],
        image_path=row["image_path"],
        meta={**json.loads(row["meta"] or "{}"), "repeats": row["repeats"]},
    )


def _row_to_proposition(row: dict) -> Proposition:
    return Proposition(
        id=row["id"],
        text=row["text"],
        reasoning=row["reasoning"],
        confidence=row["confidence"],
        model_confidence=row["model_confidence"],
        decay=row["decay"],
        status=row["status"],
        version=row["version"],
        revises_id=row["revises_id"],
        root_id=row["root_id"],
        feedback=row["feedback"],
        edited=bool(row["edited"]),
        source=row["source"],
        confidence_detail=json.loads(row["confidence_detail"] or "{}"),
        created_at=parse_time(row["created_at"]),
        updated_at=parse_time(row["updated_at"]),
        evidence_count=row.get("evidence_count") or 0,
    )


class Added(tuple):
    """What add_observation did: unpacks as (id, merged); `existing` is True when an observation with the
    same identity was already stored, and nothing was written."""

    existing: bool

    def __new__(cls, obs_id: int, merged: bool, existing: bool = False):
        self = super().__new__(cls, (obs_id, merged))
        self.existing = existing
        return self


@dataclass
class DuplicateMerge:
    """What merge_duplicate_observations did."""

    groups: int = 0  # sets of exact duplicates found
    removed: int = 0  # copies deleted (each group keeps its oldest row)
    kept: list[int] = field(default_factory=list)  # the observation kept for each group
    # Propositions whose evidence changed: their confidence must be computed again.
    propositions: list[int] = field(default_factory=list)


_PROP_SELECT = """
    SELECT p.*, (SELECT COUNT(*) FROM evidence e WHERE e.proposition_id = p.id) AS evidence_count
    FROM propositions p
"""


class Store:
    """All reads and writes of gum's database go through here."""

    def __init__(self, db: Database | None = None, path: Path | None = None, *, user_name: str = ""):
        self.db = db if db is not None else open_db(path)
        # Whose propositions these are: the name is replaced by "the user" in what gets embedded (vectors.py).
        self.user_name = user_name
        # Who the writes made through this Store are by: "user" (the CLI, the tray's own process), or the name
        # of the API token acting (the API sets it per request). Recorded with every feedback row.
        self.actor = "user"

    @property
    def connection_key(self) -> int:
        """Tells databases apart for caches kept beside the store (the search's common-term cache)."""
        return id(self.db.conn)

    def insert_distractors(self, rows: list[tuple[str, str, int, int, datetime, datetime]]) -> list[int]:
        """Bulk-insert active propositions (text, reasoning, confidence, decay, created, updated) with no evidence:
        the distractors of `gum eval --haystack`. Returns their ids."""
        ids = []
        with self.transaction():
            for text, reasoning, conf, decay, created, updated in rows:
                cur = self.db.conn.execute(
                    "INSERT INTO propositions (text, reasoning, confidence, model_confidence, decay, status, source, "
                    "confidence_detail, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'active', 'haystack', '{}', ?, ?)",
                    [text, reasoning, conf, conf, decay, iso(created), iso(updated)])
                ids.append(cur.lastrowid)
            if ids:
                self.db.conn.execute(
                    f"UPDATE propositions SET root_id = id WHERE id IN ({','.join('?' * len(ids))})", ids)
        return ids

    def remove_distractors(self) -> int:
        """Delete what insert_distractors wrote (a database kept by `gum eval --keep-db --haystack` holds them,
        and `--from-db` must score the engine's propositions alone before adding its own). Returns how many."""
        with self.transaction():
            self.db.conn.execute("DELETE FROM proposition_vectors WHERE proposition_id IN "
                                 "(SELECT id FROM propositions WHERE source = 'haystack')")
            n = self.db.conn.execute("DELETE FROM propositions WHERE source = 'haystack'").rowcount
        return n

    # -- transactions ------------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside commits together or not at all (nested calls join the outer one)."""
        conn = self.db.conn
        if conn.in_transaction:
            yield
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def _rows(self, sql: str, params: Iterable = ()) -> list[dict]:
        cur = self.db.execute(sql, list(params))
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    def log_event(self, kind: str, message: str) -> None:
        """Keep a line for `gum status` (a batch set aside, an observer that stopped)."""
        with self.transaction():
            self.db.execute(
                "INSERT INTO events (at, kind, message) VALUES (?, ?, ?)", [iso(utcnow()), kind, message[:2000]]
            )

    def recent_events(self, limit: int = 10) -> list[dict]:
        return self._rows("SELECT * FROM events ORDER BY id DESC LIMIT ?", [limit])

    # -- observations ------------------------------------------------------------------------------

    def add_observation(
        self, obs: Observation, *, merge_within: timedelta | None = timedelta(minutes=10), enqueue: bool = True,
        identity: str | None = None,
    ) -> tuple[int, bool]:
        """Store an observation; return (id, merged).

        When the previous observation of the same observer says exactly the same thing and ended within
        `merge_within`, it is extended instead (a heartbeat): ts_end moves forward and repeats grows.

        `identity` names recorded input (see gum/ingest.py): when an observation with that identity is already
        stored, nothing is written and the result's `existing` is True. The identity is claimed, the
        observation stored and queued in one transaction, so two writers racing on one input store it once.
        """
        if identity is not None:
            return self._add_identified(obs, identity, merge_within=merge_within, enqueue=enqueue)
        if not isinstance(obs.text, str):
            raise InputError("observation text must be a string")
        h = content_hash(obs.observer, obs.app, obs.window, obs.text)
        ts = obs.ts
        ts_end = obs.ts_end or ts
        with self.transaction():
            if merge_within is not None:
                last = self._rows(
                    "SELECT id, content_hash, ts_end FROM observations WHERE observer = ? "
                    "ORDER BY ts_end DESC, id DESC LIMIT 1",
                    [obs.observer],
                )
                if last and last[0]["content_hash"] == h:
                    prev_end = parse_time(last[0]["ts_end"])
                    if timedelta(0) <= ts - prev_end <= merge_within or ts <= prev_end:
                        self.db.execute(
                            "UPDATE observations SET ts_end = max(ts_end, ?), repeats = repeats + 1 WHERE id = ?",
                            [iso(ts_end), last[0]["id"]],
                        )
                        obs.id = last[0]["id"]
                        return last[0]["id"], True
            cur = self.db.execute(
                "INSERT INTO observations (ts, ts_end, observer, app, window, text, content_hash, image_path, "
                "meta, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    iso(ts),
                    iso(ts_end),
                    obs.observer,
                    obs.app or "",
                    obs.window or "",
                    obs.text,
                    h,
                    obs.image_path,
                    json.dumps(obs.meta or {}),
                    iso(utcnow()),
                ],
            )
            obs.id = cur.lastrowid
            if enqueue:
                self.db.execute(
                    "INSERT INTO queue (observation_id, enqueued_at) VALUES (?, ?)", [obs.id, iso(utcnow())]
                )
        return obs.id, False

    def _add_identified(
        self, obs: Observation, identity: str, *, merge_within: timedelta | None, enqueue: bool
    ) -> Added:
        with self.transaction():
            if not self.claim_identity(identity):
                obs.id = self.source_observation(identity)
                return Added(obs.id, False, existing=True)
            obs_id, merged = self.add_observation(obs, merge_within=merge_within, enqueue=enqueue)
            self.bind_identity(identity, obs_id)
        return Added(obs_id, merged)

    def data_version(self) -> int:
        """A number that changes when another connection commits to the database (never for this one's own)."""
        return self.db.execute("PRAGMA data_version").fetchone()[0]

    def has_identity(self, identity: str) -> bool:
        """True when recorded input with this identity was stored (even if deleted since)."""
        return bool(self._rows("SELECT 1 FROM observation_sources WHERE identity = ?", [identity]))

    def identified_observations(self) -> set[int]:
        """Ids of the observations that hold recorded input with a known identity."""
        rows = self._rows("SELECT DISTINCT observation_id FROM observation_sources WHERE observation_id IS NOT NULL")
        return {r["observation_id"] for r in rows}

    def source_observation(self, identity: str) -> int | None:
        """The observation holding recorded input with this identity, if it was stored."""
        rows = self._rows("SELECT observation_id FROM observation_sources WHERE identity = ?", [identity])
        return rows[0]["observation_id"] if rows else None

    def claim_identity(self, identity: str, obs_id: int | None = None) -> bool:
        """Claim `identity` for recorded input; False when it was claimed before (the input is already stored).

        The primary key decides, whoever gets there first: claim, store and `bind_identity` in one
        transaction, so two writers racing on one input store it once. With `obs_id`, bound at once.
        """
        with self.transaction():
            return bool(self.db.execute(
                "INSERT INTO observation_sources (identity, observation_id, added_at) VALUES (?, ?, ?) "
                "ON CONFLICT (identity) DO NOTHING", [identity, obs_id, iso(utcnow())],
            ).rowcount)

    def bind_identity(self, identity: str, obs_id: int) -> None:
        """Point a claimed identity at the observation that now holds it."""
        self.db.execute("UPDATE observation_sources SET observation_id = ? WHERE identity = ?", [obs_id, identity])

    def get_observation(self, obs_id: int) -> Observation:
        rows = self._rows("SELECT * FROM observations WHERE id = ?", [obs_id])
        if not rows:
            raise NotFound(f"no observation #{obs_id}")
        return _row_to_observation(rows[0])

    def observations(
        self, *, limit: int = 50, since: datetime | None = None, until: datetime | None = None, q: str = ""
    ) -> list[Observation]:
        """Observations, newest first, optionally matching free text."""
        where, params = ["1=1"], []
        if since:
            where.append("o.ts_end >= ?")
            params.append(iso(since))
        if until:
            where.append("o.ts <= ?")
            params.append(iso(until))
        match = fts_query(q) if q else ""
        if match:
            sql = (
                "SELECT o.* FROM observations o JOIN observations_fts f ON f.rowid = o.id "
                f"WHERE observations_fts MATCH ? AND {' AND '.join(where)} ORDER BY bm25(observations_fts) LIMIT ?"
            )
            params = [match, *params, limit]
        else:
            sql = f"SELECT o.* FROM observations o WHERE {' AND '.join(where)} ORDER BY o.ts DESC, o.id DESC LIMIT ?"
            params.append(limit)
        return [_row_to_observation(r) for r in self._rows(sql, params)]

    def update_meta(self, obs_id: int, values: dict) -> None:
        """Merge `values` into an observation's meta (engagement, injection flags)."""
        with self.transaction():
            row = self._rows("SELECT meta FROM observations WHERE id = ?", [obs_id])
            if row:
                meta = {**json.loads(row[0]["meta"] or "{}"), **values}
                self.db.execute("UPDATE observations SET meta = ? WHERE id = ?", [json.dumps(meta), obs_id])

    def propositions_citing(self, obs_id: int, statuses: tuple[str, ...] = VISIBLE) -> list[int]:
        """Ids of the propositions that have this observation as evidence."""
        rows = self._rows(
            "SELECT p.id FROM evidence e JOIN propositions p ON p.id = e.proposition_id "
            f"WHERE e.observation_id = ? AND p.status IN ({','.join('?' * len(statuses))})", [obs_id, *statuses])
        return [r["id"] for r in rows]

    def update_observation(self, obs: Observation) -> None:
        """Rewrite a stored observation that is still growing (an open activity segment)."""
        with self.transaction():
            self.db.execute(
                "UPDATE observations SET ts = ?, ts_end = ?, app = ?, window = ?, text = ?, content_hash = ?, "
                "image_path = coalesce(image_path, ?), repeats = ?, meta = ? WHERE id = ?",
                [iso(obs.ts), iso(obs.ts_end or obs.ts), obs.app or "", obs.window or "", obs.text,
                 content_hash(obs.observer, obs.app, obs.window, obs.text), obs.image_path,
                 int(obs.meta.get("segment", {}).get("captures", 1)),
                 json.dumps({k: v for k, v in obs.meta.items() if k != "repeats"}), obs.id],
            )

    def merge_engagement(self, obs_id: int, counts: dict) -> None:
        """Add a heartbeat's input counts to the observation it extended; dwell becomes ts_end - ts."""
        with self.transaction():
            row = self._rows("SELECT meta, ts, ts_end FROM observations WHERE id = ?", [obs_id])
            if not row:
                return
            meta = json.loads(row[0]["meta"] or "{}")
            total = meta.get("engagement", {})
            for k in ("keys", "clicks", "scrolls"):
                total[k] = total.get(k, 0) + int(counts.get(k, 0))
            total["dwell_s"] = (parse_time(row[0]["ts_end"]) - parse_time(row[0]["ts"])).total_seconds()
            meta["engagement"] = total
            self.db.execute("UPDATE observations SET meta = ? WHERE id = ?", [json.dumps(meta), obs_id])

    def open_segments(self, *, recorded: bool = False) -> list[Observation]:
        """Activity segments still marked open (an agent that stopped without closing them); with `recorded`,
        only those holding recorded input (an ingest's, see gum/ingest.py)."""
        where = ("AND EXISTS (SELECT 1 FROM observation_sources s WHERE s.observation_id = observations.id)"
                 if recorded else "")
        rows = self._rows(
            f"SELECT * FROM observations WHERE json_extract(meta, '$.segment.state') = 'open' {where} ORDER BY ts")
        return [_row_to_observation(r) for r in rows]

    # -- what the intake remembers of screen text: recurring lines per app, lines already read ----------

    def chrome_lines(self, app: str, hashes: list[str], min_docs: int) -> set[str]:
        """Of `hashes`, the lines seen in at least `min_docs` documents of `app` (tab strips, menus...)."""
        found: set[str] = set()
        for i in range(0, len(hashes), 500):
            part = hashes[i:i + 500]
            rows = self.db.execute(
                f"SELECT line_hash, docs FROM line_stats WHERE app = ? AND line_hash IN ({','.join('?' * len(part))})",
                [app, *part]).fetchall()
            found.update(h for h, docs in rows if len(docs.split(",")) >= min_docs)
        return found

    def learn_lines(self, app: str, doc: str, hashes: list[str], *, keep_docs: int = 4) -> None:
        """Note that these lines were seen in document `doc` of `app`."""
        now = iso(utcnow())
        with self.transaction():
            for h in set(hashes):
                row = self.db.execute("SELECT docs FROM line_stats WHERE app = ? AND line_hash = ?",
                                      [app, h]).fetchone()
                docs = row[0].split(",") if row and row[0] else []
                if doc not in docs and len(docs) < keep_docs:
                    docs.append(doc)
                self.db.execute(
                    "INSERT INTO line_stats (app, line_hash, docs, last_seen) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT(app, line_hash) DO UPDATE SET docs = excluded.docs, last_seen = excluded.last_seen",
                    [app, h, ",".join(docs), now])

    def read_before(self, hashes: list[str], *, since: datetime, exclude: int | None = None) -> dict[str, int]:
        """Of `hashes`, the lines the model read since `since`: line hash -> the observation it read them in."""
        out: dict[str, int] = {}
        for i in range(0, len(hashes), 500):
            part = hashes[i:i + 500]
            rows = self.db.execute(
                f"SELECT line_hash, observation_id FROM read_lines WHERE at >= ? AND line_hash IN "
                f"({','.join('?' * len(part))})", [iso(since), *part]).fetchall()
            out.update({h: oid for h, oid in rows if oid != exclude})
        return out

    def mark_read(self, hashes: list[str], obs_id: int, at: datetime) -> None:
        """These lines go to the model in observation `obs_id`."""
        with self.transaction():
            self.db.conn.executemany(
                "INSERT INTO read_lines (line_hash, observation_id, at) VALUES (?, ?, ?) "
                "ON CONFLICT(line_hash) DO UPDATE SET observation_id = excluded.observation_id, at = excluded.at",
                [(h, obs_id, iso(at)) for h in set(hashes)])

    def forget_lines(self, before: datetime) -> int:
        """Drop line memory older than `before` (retention)."""
        with self.transaction():
            n = self.db.execute("DELETE FROM read_lines WHERE at < ?", [iso(before)]).rowcount
            n += self.db.execute("DELETE FROM line_stats WHERE last_seen < ?", [iso(before)]).rowcount
        return n

    def link_repeats(self, obs_id: int, source_ids: Iterable[int]) -> list[int]:
        """Record that `obs_id` repeated what `source_ids` showed, and attach it as evidence to what they
        support already (the engine attaches it to what they yield later). Returns the propositions touched."""
        with self.transaction():
            self.db.conn.executemany("INSERT OR IGNORE INTO repeats (observation_id, source_id) VALUES (?, ?)",
                                [(obs_id, s) for s in set(source_ids) if s != obs_id])
            return self._attach_repeats("r.observation_id = ?", [obs_id])

    def attach_repeats(self, source_id: int) -> list[int]:
        """Give the repeats of `source_id` the evidence links `source_id` has. Returns the propositions touched."""
        with self.transaction():
            return self._attach_repeats("r.source_id = ?", [source_id])

    def _attach_repeats(self, where: str, params: list) -> list[int]:
        rows = self.db.execute(
            "SELECT DISTINCT e.proposition_id, r.observation_id, e.cap FROM repeats r "
            "JOIN evidence e ON e.observation_id = r.source_id "
            f"JOIN propositions p ON p.id = e.proposition_id AND p.status = 'active' WHERE {where}", params).fetchall()
        touched = []
        for pid, oid, cap in rows:
            cur = self.db.execute(
                "INSERT OR IGNORE INTO evidence (proposition_id, observation_id, added_at, cap) VALUES (?, ?, ?, ?)",
                [pid, oid, iso(utcnow()), cap])
            if cur.rowcount:
                touched.append(pid)
        return sorted(set(touched))

    # -- the queue ---------------------------------------------------------------------------------

    def pending(self, limit: int, max_attempts: int = 3) -> list[Observation]:
        """Observations still waiting for the model: the most engaged first, then the oldest."""
        rows = self._rows(
            "SELECT o.* FROM queue q JOIN observations o ON o.id = q.observation_id "
            "WHERE q.state = 'pending' AND q.attempts < ? ORDER BY q.priority DESC, o.ts, o.id LIMIT ?",
            [max_attempts, limit],
        )
        return [_row_to_observation(r) for r in rows]

    def is_queued(self, observation_id: int) -> bool:
        """Whether the observation still waits in the queue (pending, or set aside after failures)."""
        return self.db.execute("SELECT 1 FROM queue WHERE observation_id = ?", [observation_id]).fetchone() is not None

    def dequeue(self, observation_ids: Iterable[int]) -> int:
        """Mark observations processed; returns how many were still queued. Call inside the transaction that
        stores what they produced: 0 means another process got there first, and its results stand."""
        ids = list(observation_ids)
        if not ids:
            return 0
        return self.db.execute(
            f"DELETE FROM queue WHERE observation_id IN ({','.join('?' * len(ids))})", ids
        ).rowcount

    def record_failure(self, observation_id: int, error: str, max_attempts: int) -> bool:
        """Count a failed attempt; after `max_attempts` the observation is set aside. True if set aside."""
        with self.transaction():
            self.db.execute(
                "UPDATE queue SET attempts = attempts + 1, last_error = ?, "
                "state = CASE WHEN attempts + 1 >= ? THEN 'failed' ELSE state END WHERE observation_id = ?",
                [error[:1000], max_attempts, observation_id],
            )
            row = self._rows("SELECT state FROM queue WHERE observation_id = ?", [observation_id])
        return bool(row) and row[0]["state"] == "failed"

    def enqueue(self, obs_id: int, priority: float = 0.5) -> None:
        """Put an observation in the queue for the model (higher priority first)."""
        with self.transaction():
            self.db.execute(
                "INSERT OR IGNORE INTO queue (observation_id, enqueued_at, priority) VALUES (?, ?, ?)",
                [obs_id, iso(utcnow()), float(priority)])

    def queue_due(self, max_attempts: int) -> tuple[int, datetime | None]:
        """(how many wait for the model, when the oldest of them was queued)."""
        row = self.db.execute(
            "SELECT COUNT(*), MIN(enqueued_at) FROM queue WHERE state = 'pending' AND attempts < ?",
            [max_attempts]).fetchone()
        return row[0], parse_time(row[1]) if row[1] else None

    def optimize(self) -> None:
        """Index upkeep (FTS merge, the query planner's statistics)."""
        self.db.execute("INSERT INTO observations_fts(observations_fts) VALUES ('optimize')")
        self.db.execute("PRAGMA optimize")

    def set_state(self, key: str, value) -> None:
        """Remember a small JSON-able fact between runs (the model's pace)."""
        with self.transaction():
            self.db.execute("INSERT INTO agent_state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE "
                            "SET value = excluded.value", [key, json.dumps(value)])

    def get_state(self, key: str, default=None):
        row = self.db.execute("SELECT value FROM agent_state WHERE key = ?", [key]).fetchone()
        return json.loads(row[0]) if row else default

    # -- the timeline: what happened on a day (gum/timeline.py builds it from these reads) -------------

    def note_unrecorded(self, reason: str, start: datetime, end: datetime | None = None, *,
                        join_within: timedelta | None = None) -> int:
        """Record that nothing was observed from `start` to `end` because of `reason` ("paused": observing was
        paused; "excluded": an excluded window was in front). With `join_within`, the latest span of that
        reason is extended instead when it ended no longer ago than that (a heartbeat). Returns the span's id."""
        end = end or start
        with self.transaction():
            if join_within is not None:
                last = self.db.execute(
                    "SELECT id, end FROM unrecorded WHERE reason = ? ORDER BY end DESC, id DESC LIMIT 1",
                    [reason]).fetchone()
                if last and parse_time(last[1]) >= start - join_within:
                    self.db.execute("UPDATE unrecorded SET end = max(end, ?) WHERE id = ?", [iso(end), last[0]])
                    return last[0]
            return self.db.execute("INSERT INTO unrecorded (reason, start, end) VALUES (?, ?, ?)",
                                   [reason, iso(start), iso(max(start, end))]).lastrowid

    def unrecorded(self, since: datetime, until: datetime) -> list[tuple[str, datetime, datetime]]:
        """(reason, start, end) of the not-recorded spans that overlap [since, until), oldest first."""
        rows = self.db.execute(
            "SELECT reason, start, end FROM unrecorded WHERE start < ? AND end > ? ORDER BY start",
            [iso(until), iso(since)]).fetchall()
        return [(r, parse_time(a), parse_time(b)) for r, a, b in rows]

    def activity(self, since: datetime, until: datetime, *, lookback: timedelta = timedelta(days=1),
                 excerpt: int = 0, excerpt_since: datetime | None = None) -> list[Observation]:
        """The activity segments and input summaries that overlap [since, until), oldest first, with at most
        `excerpt` characters of their text (0: none; a day of segments holds megabytes of screen text), for
        those that end after `excerpt_since` only when it is given.

        An observation that started more than `lookback` before `since` is not looked for (segments close at
        a maximum length of minutes; the bound keeps the read on the time index)."""
        rows = self._rows(
            f"SELECT id, observer, app, window, CASE WHEN ts_end >= ? THEN substr(text, 1, {int(excerpt)}) "
            "ELSE '' END AS text, ts, ts_end, NULL AS image_path, repeats, meta FROM observations "
            "WHERE ts >= ? AND ts < ? AND ts_end >= ? "
            "AND (observer = 'input' OR json_extract(meta, '$.segment') IS NOT NULL) ORDER BY ts, id",
            [iso(excerpt_since or since), iso(since - lookback), iso(until), iso(since)])
        return [_row_to_observation(r) for r in rows]

    def cited_by(self, obs_ids: Iterable[int], statuses: tuple[str, ...] = VISIBLE) -> dict[int, list[int]]:
        """For each of `obs_ids` that is evidence: the ids of the propositions (of `statuses`) citing it."""
        ids = list(obs_ids)
        out: dict[int, list[int]] = {}
        marks = ",".join("?" * len(statuses))
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            rows = self.db.execute(
                "SELECT e.observation_id, p.id FROM evidence e JOIN propositions p ON p.id = e.proposition_id "
                f"WHERE e.observation_id IN ({','.join('?' * len(part))}) AND +p.status IN ({marks}) "
                "ORDER BY e.observation_id, p.id", [*part, *statuses]).fetchall()
            for oid, pid in rows:
                out.setdefault(oid, []).append(pid)
        return out

    def evidence_ids(self, proposition_ids: Iterable[int]) -> dict[int, list[int]]:
        """For each proposition: the ids of the observations that are its evidence."""
        ids = list(proposition_ids)
        out: dict[int, list[int]] = {pid: [] for pid in ids}
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            for pid, oid in self.db.execute(
                    f"SELECT proposition_id, observation_id FROM evidence WHERE proposition_id IN "
                    f"({','.join('?' * len(part))}) ORDER BY observation_id", part).fetchall():
                out[pid].append(oid)
        return out

    def proposition_events(self, since: datetime, until: datetime) -> list[tuple[str, datetime, Proposition]]:
        """What happened to propositions in [since, until), oldest first: (action, when, the proposition row).

        "created" and "revised" (by the engine, or the user's edit) are rows written then; "confirmed",
        "rejected", "revoked" and "added" come from what the user (or a plugin) said, in the feedback log."""
        window = [iso(since), iso(until)]
        out: list[tuple[str, datetime, Proposition]] = []
        for r in self._rows(_PROP_SELECT + " WHERE p.inserted_at >= ? AND p.inserted_at < ? "
                            "AND p.source != 'haystack'", window):
            added_by_hand = r["version"] == 1 and (r["source"] == "user" or r["source"].startswith("plugin:"))
            if not added_by_hand:  # those are in the feedback log as "add"
                out.append(("created" if r["version"] == 1 else "revised", parse_time(r["inserted_at"]),
                            _row_to_proposition(r)))
        names = {"confirm": "confirmed", "reject": "rejected", "revoke": "revoked", "add": "added"}
        for r in self._rows(
                "SELECT f.action AS action, f.at AS at, p.*, (SELECT COUNT(*) FROM evidence e "
                "WHERE e.proposition_id = p.id) AS evidence_count FROM feedback_log f "
                "JOIN propositions p ON p.id = f.proposition_id WHERE f.at >= ? AND f.at < ? "
                "AND f.action IN ('confirm', 'reject', 'revoke', 'add')", window):
            out.append((names[r["action"]], parse_time(r["at"]), _row_to_proposition(r)))
        out.sort(key=lambda e: (e[1], e[2].id))
        return out

    def segment_counts(self) -> dict:
        """Activities by what became of them: activity (read by the model), glance, known (a repeat), empty."""
        rows = self._rows(
            "SELECT json_extract(meta, '$.segment.kind') AS kind, COUNT(*) AS n FROM observations "
            "WHERE json_extract(meta, '$.segment.state') = 'closed' GROUP BY kind")
        return {r["kind"]: r["n"] for r in rows}

    def retry_failed(self) -> int:
        """Put set-aside observations back in the queue; returns how many."""
        with self.transaction():
            cur = self.db.execute("UPDATE queue SET state = 'pending', attempts = 0 WHERE state = 'failed'")
        return cur.rowcount

    def queue_counts(self) -> dict:
        rows = self._rows("SELECT state, COUNT(*) AS n FROM queue GROUP BY state")
        counts = {"pending": 0, "failed": 0}
        counts.update({r["state"]: r["n"] for r in rows})
        return counts

    # -- propositions ------------------------------------------------------------------------------

    def insert_proposition(
        self, prop: Proposition, evidence: Iterable[int] = (), caps: dict[int, float] | None = None
    ) -> int:
        """Insert a new proposition (version 1 of a new lineage) with its evidence."""
        now = iso(prop.updated_at or utcnow())
        with self.transaction():
            cur = self.db.execute(
                "INSERT INTO propositions (text, reasoning, confidence, model_confidence, decay, status, version, "
                "revises_id, root_id, feedback, edited, source, confidence_detail, created_at, updated_at, "
                "inserted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    prop.text,
                    prop.reasoning,
                    _clamp(prop.confidence),
                    prop.model_confidence,
                    _clamp(prop.decay),
                    prop.status,
                    prop.version,
                    prop.revises_id,
                    prop.root_id,
                    prop.feedback,
                    int(prop.edited),
                    prop.source,
                    json.dumps(prop.confidence_detail or {}),
                    iso(prop.created_at or utcnow()),
                    now,
                    iso(utcnow()),
                ],
            )
            pid = cur.lastrowid
            if prop.root_id is None:
                self.db.execute("UPDATE propositions SET root_id = ? WHERE id = ?", [pid, pid])
            self.add_evidence(pid, evidence, caps)
            # Embedded when written, in the same transaction (~10 ms); skipped if the model is not installed.
            vectors.embed_and_write(self.db, [(pid, prop.text)], self.user_name)
        prop.id = pid
        return pid

    def add_evidence(
        self, proposition_id: int, observation_ids: Iterable[int], caps: dict[int, float] | None = None
    ) -> int:
        """Link observations to a proposition as its evidence; returns how many links were new.

        `caps` limits how much an observation counts for this proposition (set by the verification step).
        """
        added = 0
        caps = caps or {}
        with self.transaction():
            for oid in observation_ids:
                cur = self.db.execute(
                    "INSERT OR IGNORE INTO evidence (proposition_id, observation_id, added_at, cap) VALUES (?, ?, ?, ?)",
                    [proposition_id, oid, iso(utcnow()), caps.get(oid)],
                )
                added += cur.rowcount
        return added

    def evidence_caps(self, proposition_id: int) -> dict[int, float]:
        """The caps the verification step put on this proposition's evidence links."""
        rows = self._rows("SELECT observation_id, cap FROM evidence WHERE proposition_id = ? AND cap IS NOT NULL",
                          [proposition_id])
        return {r["observation_id"]: r["cap"] for r in rows}

    def touch(self, proposition_id: int, **fields) -> None:
        """Update fields of a proposition in place (confidence, confidence_detail, updated_at...)."""
        if "confidence_detail" in fields:
            fields["confidence_detail"] = json.dumps(fields["confidence_detail"])
        if "updated_at" in fields and isinstance(fields["updated_at"], datetime):
            fields["updated_at"] = iso(fields["updated_at"])
        for key in ("confidence", "decay"):
            if key in fields:
                fields[key] = _clamp(fields[key])
        if not fields:
            return
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self.transaction():
            self.db.execute(f"UPDATE propositions SET {sets} WHERE id = ?", [*fields.values(), proposition_id])

    def revise(
        self, old_id: int, new: Proposition, evidence: Iterable[int] = (), caps: dict[int, float] | None = None
    ) -> int:
        """Write `new` as the next version of proposition `old_id`; the old one is kept, marked superseded.

        The new version inherits the old one's evidence, so every version carries all that supports it.
        """
        with self.transaction():
            old = self.get(old_id)
            new.revises_id = old.id
            new.root_id = old.root_id or old.id
            new.version = old.version + 1
            new.created_at = old.created_at
            new.status = "active"
            new.feedback = None
            self.db.execute("UPDATE propositions SET status = 'superseded' WHERE id = ?", [old.id])
            inherited = [e["observation_id"] for e in self._rows(
                "SELECT observation_id FROM evidence WHERE proposition_id = ?", [old.id])]
            pid = self.insert_proposition(new, [*inherited, *evidence], {**self.evidence_caps(old.id), **(caps or {})})
        return pid

    def get(self, proposition_id: int) -> Proposition:
        rows = self._rows(_PROP_SELECT + " WHERE p.id = ?", [proposition_id])
        if not rows:
            raise NotFound(f"no proposition #{proposition_id}")
        return _row_to_proposition(rows[0])

    def current(self, proposition_id: int) -> Proposition:
        """The latest version of the lineage `proposition_id` belongs to."""
        prop = self.get(proposition_id)
        rows = self._rows(
            _PROP_SELECT + " WHERE p.root_id = ? ORDER BY p.version DESC LIMIT 1", [prop.root_id or prop.id]
        )
        return _row_to_proposition(rows[0]) if rows else prop

    def history(self, proposition_id: int) -> list[Proposition]:
        """Every version of the proposition's lineage, oldest first."""
        prop = self.get(proposition_id)
        rows = self._rows(_PROP_SELECT + " WHERE p.root_id = ? ORDER BY p.version", [prop.root_id or prop.id])
        return [_row_to_proposition(r) for r in rows]

    def evidence(self, proposition_id: int) -> list[Observation]:
        rows = self._rows(
            "SELECT o.* FROM evidence e JOIN observations o ON o.id = e.observation_id "
            "WHERE e.proposition_id = ? ORDER BY o.ts",
            [proposition_id],
        )
        return [_row_to_observation(r) for r in rows]

    def propositions(
        self,
        *,
        statuses: tuple[str, ...] = VISIBLE,
        limit: int | None = 50,
        since: datetime | None = None,
        until: datetime | None = None,
        order: str = "p.updated_at DESC, p.id DESC",
    ) -> list[Proposition]:
        where, params = _window(statuses, since, until, "p.")
        sql = _PROP_SELECT + f" WHERE {' AND '.join(where)} ORDER BY {order}"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_row_to_proposition(r) for r in self._rows(sql, params)]

    def search(
        self,
        text: str,
        *,
        statuses: tuple[str, ...] = VISIBLE,
        limit: int = 50,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[tuple[Proposition, float]]:
        """Full-text candidates with their BM25 relevance (higher is better), best first."""
        match = fts_query(text)
        if not match:
            return []
        where = [f"p.status IN ({','.join('?' * len(statuses))})"]
        params: list = list(statuses)
        if since:
            where.append("p.updated_at >= ?")
            params.append(iso(since))
        if until:
            where.append("p.created_at <= ?")
            params.append(iso(until))
        select = (
            "SELECT p.*, -f.rank AS relevance, "
            "(SELECT COUNT(*) FROM evidence e WHERE e.proposition_id = p.id) AS evidence_count FROM "
        )
        # Fast path: FTS5's own rank order over its top hits, then the filters. Twice as fast as ordering
        # every match by bm25() (measured at 100k propositions), but filters applied after the cut could
        # leave too few rows, so then the exact query runs.
        inner = max(4 * limit, 200)
        sql = (
            select + "(SELECT rowid, rank FROM propositions_fts WHERE propositions_fts MATCH ? ORDER BY rank "
            f"LIMIT {inner}) f JOIN propositions p ON p.id = f.rowid WHERE {' AND '.join(where)} "
            "ORDER BY f.rank LIMIT ?"
        )
        rows = self._rows(sql, [match, *params, limit])
        if len(rows) < limit:
            hits = self._rows(
                f"SELECT COUNT(*) AS n FROM (SELECT rowid FROM propositions_fts WHERE propositions_fts MATCH ? "
                f"LIMIT {inner})", [match])[0]["n"]
            if hits >= inner:  # the cut may have hidden matches that pass the filters
                sql = (
                    select + "(SELECT rowid, rank FROM propositions_fts WHERE propositions_fts MATCH ?) f "
                    f"JOIN propositions p ON p.id = f.rowid WHERE {' AND '.join(where)} ORDER BY f.rank LIMIT ?"
                )
                rows = self._rows(sql, [match, *params, limit])
        return [(_row_to_proposition(r), float(r["relevance"])) for r in rows]

    def size_estimate(self) -> int:
        """How many propositions there are, about (the newest id: one index lookup, not a count)."""
        return self.db.execute("SELECT max(id) FROM propositions").fetchone()[0] or 0

    def match_count(self, term: str, cap: int) -> int:
        """How many propositions the word `term` matches in full text, counting no further than `cap`."""
        match = fts_query(term)
        if not match:
            return 0
        return self.db.execute(
            "SELECT COUNT(*) FROM (SELECT rowid FROM propositions_fts WHERE propositions_fts MATCH ? LIMIT ?)",
            [match, cap]).fetchone()[0]

    def ids_in_window(
        self, since: datetime | None, until: datetime | None, *, statuses: tuple[str, ...] = VISIBLE,
        cap: int | None = None,
    ) -> list[int] | None:
        """Ids of the propositions alive in the window (as `propositions` filters); None if more than `cap`."""
        where, params = _window(statuses, since, until)
        sql = f"SELECT id FROM propositions WHERE {' AND '.join(where)}"
        if cap is not None:
            sql += f" LIMIT {int(cap) + 1}"
        ids = [r[0] for r in self.db.execute(sql, params).fetchall()]
        return None if cap is not None and len(ids) > cap else ids

    def alive_ids(
        self, ids: Iterable[int], *, statuses: tuple[str, ...] = VISIBLE, since: datetime | None = None,
        until: datetime | None = None,
    ) -> set[int]:
        """Which of `ids` have one of `statuses` and are alive in the window (get_many without the rows)."""
        ids = list(ids)
        if not ids:
            return set()
        where, params = _window(statuses, since, until, "p.", status="+p.status")
        where, params = [f"p.id IN ({','.join('?' * len(ids))})", *where], [*ids, *params]
        return {r[0] for r in self.db.execute(f"SELECT p.id FROM propositions p WHERE {' AND '.join(where)}",
                                              params).fetchall()}

    def get_many(
        self, ids: Iterable[int], *, statuses: tuple[str, ...] = VISIBLE, since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[Proposition]:
        """The propositions among `ids` with one of `statuses`, alive in the window (in no particular order)."""
        ids = list(ids)
        if not ids:
            return []
        # "+p.status": look the ids up by primary key; on the status index SQLite would walk every active row.
        where, params = _window(statuses, since, until, "p.", status="+p.status")
        where, params = [f"p.id IN ({','.join('?' * len(ids))})", *where], [*ids, *params]
        return [_row_to_proposition(r) for r in self._rows(_PROP_SELECT + f" WHERE {' AND '.join(where)}", params)]

    # -- what the user says ------------------------------------------------------------------------

    def _log_feedback(self, prop: Proposition, action: str, **detail) -> None:
        self.db.execute(
            "INSERT INTO feedback_log (proposition_id, action, confidence, detail, at, actor) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [prop.id, action, prop.confidence, json.dumps(detail), iso(utcnow()), self.actor],
        )

    def visible(self, proposition_id: int) -> Proposition:
        """The proposition, unless it or its lineage was revoked: revoked propositions never come back, to
        anyone (the API, the command line, the tray). NotFound otherwise."""
        prop = self.get(proposition_id)
        if prop.status == "revoked" or self.current(proposition_id).status == "revoked":
            raise NotFound(f"proposition #{proposition_id} was revoked")
        return prop

    def confirm(self, proposition_id: int) -> Proposition:
        """The user says it is true."""
        with self.transaction():
            self.visible(proposition_id)
            prop = self.current(proposition_id)
            self._require_visible(prop)
            if self.actor not in USER_ACTORS and prop.source.startswith("plugin:"):
                raise InputError("only the user can confirm a plugin's addition (in the tray or with `gum`)")
            self.db.execute("UPDATE propositions SET feedback = 'confirmed' WHERE id = ?", [prop.id])
            self._log_feedback(prop, "confirm")
        return self.get(prop.id)

    def reject(self, proposition_id: int) -> Proposition:
        """The user says it is false: it is hidden, kept for calibration, and never inferred again."""
        with self.transaction():
            self.visible(proposition_id)
            prop = self.current(proposition_id)
            self._require_visible(prop)
            self.db.execute(
                "UPDATE propositions SET feedback = 'rejected', status = 'rejected' WHERE id = ?", [prop.id]
            )
            self._log_feedback(prop, "reject")
        return self.get(prop.id)

    def edit(self, proposition_id: int, *, text: str | None = None, confidence: int | None = None) -> Proposition:
        """The user rewrites a proposition: a new version, marked edited, that the engine will not overwrite."""
        with self.transaction():
            self.visible(proposition_id)
            prop = self.current(proposition_id)
            self._require_visible(prop)
            new = Proposition(
                text=(text or prop.text).strip(),
                reasoning=prop.reasoning,
                confidence=confidence if confidence is not None else prop.confidence,
                model_confidence=prop.model_confidence,
                decay=prop.decay,
                edited=True,
                source=prop.source,
                confidence_detail={"user_set": confidence is not None, **prop.confidence_detail},
            )
            pid = self.revise(prop.id, new)
            self._log_feedback(prop, "edit", new_id=pid, text=text, confidence=confidence)
        return self.get(pid)

    def clear_feedback(self, proposition_id: int) -> Proposition:
        """Undo a confirm or reject: feedback back to none (a rejected one active again) and its log row gone,
        so calibration does not count a click the user took back."""
        with self.transaction():
            prop = self.visible(proposition_id)
            if prop.feedback is None:
                raise NotFound(f"proposition #{proposition_id} has no confirm or reject to undo")
            self.db.execute(
                "UPDATE propositions SET feedback = NULL, "
                "status = CASE WHEN status = 'rejected' THEN 'active' ELSE status END WHERE id = ?",
                [prop.id],
            )
            self.db.execute(
                "DELETE FROM feedback_log WHERE id = (SELECT id FROM feedback_log WHERE proposition_id = ? "
                "AND action IN ('confirm', 'reject') ORDER BY id DESC LIMIT 1)",
                [prop.id],
            )
        return self.get(prop.id)

    def revoke(self, proposition_id: int, *, with_evidence: bool = False) -> Proposition:
        """Forget a proposition: every version hidden everywhere, and never re-inferred.

        The text is kept, so the engine can recognise and refuse it (or anything close to it) later.
        With `with_evidence`, the observations behind it are deleted too (unless other live propositions
        still rest on them).
        """
        with self.transaction():
            prop = self.current(proposition_id)
            if prop.status == "revoked":
                return prop
            root = prop.root_id or prop.id
            self.db.execute(
                "UPDATE propositions SET status = 'revoked' WHERE root_id = ? AND status = 'active'",
                [root],
            )
            self.db.execute("UPDATE propositions SET status = 'revoked' WHERE id = ?", [prop.id])
            self._log_feedback(prop, "revoke", with_evidence=with_evidence)
            if with_evidence:
                obs_ids = [r["observation_id"] for r in self._rows(
                    "SELECT DISTINCT e.observation_id FROM evidence e JOIN propositions p ON p.id = e.proposition_id "
                    "WHERE p.root_id = ?", [root])]
                for oid in obs_ids:
                    others = self._rows(
                        "SELECT 1 FROM evidence e JOIN propositions p ON p.id = e.proposition_id "
                        "WHERE e.observation_id = ? AND p.root_id != ? AND p.status = 'active' LIMIT 1",
                        [oid, root],
                    )
                    if not others:
                        self.db.execute("DELETE FROM evidence WHERE observation_id = ?", [oid])
                        self.db.execute("DELETE FROM queue WHERE observation_id = ?", [oid])
                        self.db.execute("DELETE FROM observations WHERE id = ?", [oid])
        return self.get(prop.id)

    def add_by_hand(self, text: str, *, confidence: int = 10, decay: int = 8) -> Proposition:
        """A proposition the user wrote themselves; or, added by a plugin (self.actor), that plugin's claim:
        unconfirmed, at most confidence 5, shown to no other plugin until the user confirms it."""
        if self.actor in USER_ACTORS:
            prop = Proposition(text=text.strip(), reasoning="Added by the user.", confidence=confidence,
                               decay=decay, source="user", edited=True, feedback="confirmed",
                               confidence_detail={"user_set": True})
        else:
            prop = Proposition(text=text.strip(), reasoning=f"Added by the plugin {self.actor!r}, not yet "
                               "confirmed by the user.", confidence=min(confidence, 5), decay=decay,
                               source=f"plugin:{self.actor}", confidence_detail={"plugin": self.actor})
        with self.transaction():
            pid = self.insert_proposition(prop)
            self._log_feedback(self.get(pid), "add")
        return self.get(pid)

    def _require_visible(self, prop: Proposition) -> None:
        if prop.status != "active":
            raise NotFound(f"proposition #{prop.id} is {prop.status}")

    def calibration(self) -> list[dict]:
        """Per confidence level: how many propositions the user confirmed and rejected."""
        rows = self._rows(
            "SELECT confidence, SUM(action = 'confirm') AS confirmed, SUM(action = 'reject') AS rejected "
            "FROM feedback_log WHERE action IN ('confirm', 'reject') GROUP BY confidence ORDER BY confidence"
        )
        return rows

    # -- overview ----------------------------------------------------------------------------------

    def counts(self) -> dict:
        rows = self._rows("SELECT status, COUNT(*) AS n FROM propositions GROUP BY status")
        props = {r["status"]: r["n"] for r in rows}
        return {
            "observations": self._rows("SELECT COUNT(*) AS n FROM observations")[0]["n"],
            "propositions": props,
            "queue": self.queue_counts(),
        }

    # -- repair ------------------------------------------------------------------------------------

    def duplicate_observations(self) -> list[list[int]]:
        """Sets of exact duplicates, oldest first in each: the same observer, app, window and text at the same
        time. Databases made before recorded input had an identity hold them (every re-run of an ingest)."""
        rows = self._rows(
            "SELECT id, content_hash, ts FROM observations WHERE (content_hash, ts) IN "
            "(SELECT content_hash, ts FROM observations GROUP BY content_hash, ts HAVING COUNT(*) > 1) "
            "ORDER BY content_hash, ts, id"
        )
        groups: dict[tuple, list[int]] = {}
        for r in rows:
            groups.setdefault((r["content_hash"], r["ts"]), []).append(r["id"])
        return sorted(groups.values())

    def merge_duplicate_observations(self) -> DuplicateMerge:
        """Merge every set of exact duplicates into its oldest row, in one transaction.

        Evidence links move to the kept row (a proposition cites it once, however many copies it cited; a
        link the kept row already has keeps its own cap), so do the identities of recorded input. Feedback is
        on propositions and untouched. The kept row spans the copies (latest ts_end, most repeats) and takes
        meta keys it lacks from them. When any copy went through the model, the merged observation counts as
        processed; otherwise one queue entry stays. Recomputing the confidence of the propositions listed in
        the result is the caller's job (gum/repair.py), since the engine owns that rule.
        """
        report = DuplicateMerge()
        touched: set[int] = set()
        with self.transaction():
            for group in self.duplicate_observations():
                keep, copies = group[0], group[1:]
                marks = ",".join("?" * len(group))
                touched.update(r["proposition_id"] for r in self._rows(
                    f"SELECT DISTINCT proposition_id FROM evidence WHERE observation_id IN ({marks})", group))
                queued = {r["observation_id"] for r in self._rows(
                    f"SELECT observation_id FROM queue WHERE observation_id IN ({marks})", group)}
                rows = {r["id"]: r for r in self._rows(
                    f"SELECT id, ts_end, repeats, meta FROM observations WHERE id IN ({marks})", group)}
                meta: dict = {}
                for oid in reversed(group):  # the kept row's own values win
                    meta.update(json.loads(rows[oid]["meta"] or "{}"))
                self.db.execute(
                    "UPDATE observations SET ts_end = ?, repeats = ?, meta = ? WHERE id = ?",
                    [max(r["ts_end"] for r in rows.values()), max(r["repeats"] for r in rows.values()),
                     json.dumps(meta), keep],
                )
                for oid in copies:
                    self.db.execute("UPDATE OR IGNORE evidence SET observation_id = ? WHERE observation_id = ?",
                                    [keep, oid])
                    self.db.execute("UPDATE observation_sources SET observation_id = ? WHERE observation_id = ?",
                                    [keep, oid])
                if len(queued) < len(group):  # some copy was processed: its results stand for all
                    self.db.execute(f"DELETE FROM queue WHERE observation_id IN ({marks})", group)
                gone = ",".join("?" * len(copies))
                # Links the kept row already had, and the copies' queue entries, go with the copies.
                self.db.execute(f"DELETE FROM evidence WHERE observation_id IN ({gone})", copies)
                self.db.execute(f"DELETE FROM queue WHERE observation_id IN ({gone})", copies)
                self.db.execute(f"DELETE FROM observations WHERE id IN ({gone})", copies)
                report.groups += 1
                report.removed += len(copies)
                report.kept.append(keep)
        report.propositions = sorted(touched)
        return report

    def export(self) -> dict:
        """Everything, as plain JSON-able data."""
        return {
            "observations": self._rows("SELECT * FROM observations ORDER BY id"),
            "propositions": self._rows("SELECT * FROM propositions ORDER BY id"),
            "evidence": self._rows("SELECT * FROM evidence ORDER BY proposition_id, observation_id"),
            "feedback": self._rows("SELECT * FROM feedback_log ORDER BY id"),
            "unrecorded": self._rows("SELECT * FROM unrecorded ORDER BY id"),
        }

    def close(self) -> None:
        vectors.forget(self.db)
        self.db.conn.close()


def _window(statuses: tuple[str, ...], since: datetime | None, until: datetime | None,
            prefix: str = "", *, status: str | None = None) -> tuple[list[str], list]:
    """WHERE terms for propositions of these statuses alive in the window: updated since, created until.
    `status` overrides the status column's expression ("+p.status" keeps SQLite off the status index)."""
    where = [f"{status or prefix + 'status'} IN ({','.join('?' * len(statuses))})"]
    params: list = list(statuses)
    if since:
        where.append(f"{prefix}updated_at >= ?")
        params.append(iso(since))
    if until:
        where.append(f"{prefix}created_at <= ?")
        params.append(iso(until))
    return where, params


def _clamp(value) -> int:
    return max(1, min(10, int(round(float(value)))))
