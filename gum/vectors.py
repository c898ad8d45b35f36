"""Dense retrieval: one sentence embedding per proposition, stored compactly, searched in memory.

The `proposition_vectors` table (owned here) holds each proposition's all-MiniLM-L6-v2 vector quantised to
int8 with one scale (388 bytes instead of 1.5 KB of float32). A query does not read the table: the vectors are
loaded once per process into memory (the new rows are appended at each query, found by rowid), as
  - sign bits (48 bytes a proposition: 4.8 MB at 100k), compared by Hamming distance to pick candidates, and
  - the int8 rows, which re-score those candidates by the true dot product.
sqlite-vec 0.1.9 loads under SQLCipher, but its KNN reads and decrypts every vector page at each query:
measured at 100k, 630 ms CPU for float vectors and 26 ms for bit vectors, against ~4 ms here.

The text embedded is the proposition with the user's name replaced by "the user": the name is in nearly every
proposition, carries nothing, and without it the same claim embeds alike whoever it is about.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache

from . import embeddings

MODEL_KEY = embeddings.MINILM.key
# Candidates the sign bits hand to the exact re-scoring: enough that the true top results survive the
# coarse step (binary codes keep ~90% of the top 10 in the first 1-2% of a large collection).
RESCORE = 512
# Up to this many rows are scored exactly without the coarse step (a narrow time window, a small database).
EXACT_UP_TO = 20_000


@lru_cache(maxsize=64)
def _name_pattern(user_name: str) -> re.Pattern | None:
    # A name's parts are capitalised words; "the user" (scenarios without a name) has none to replace.
    words = [p for p in user_name.split() if len(p) >= 2 and p[0].isupper()]
    parts = sorted({user_name.strip(), *words} if words else set(), key=len, reverse=True)
    if not parts:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(p) for p in parts) + r")(?!\w)", re.IGNORECASE)


def dense_text(text: str, user_name: str = "") -> str:
    """What is embedded for `text`: the user's name (whole or any part of it) replaced by 'the user'."""
    pattern = _name_pattern(user_name or "")
    return pattern.sub("the user", text) if pattern else text


def quantize(vectors):
    """int8 rows and their scales, for L2-normalised float vectors (row ~= scale x int8 row)."""
    import numpy as np

    vectors = np.asarray(vectors, dtype=np.float32)
    scales = np.maximum(np.abs(vectors).max(axis=1), 1e-9) / 127.0
    codes = np.round(vectors / scales[:, None]).astype(np.int8)
    return codes, scales.astype(np.float32)


def write(db, ids: list[int], vectors) -> None:
    """Store the vectors of propositions `ids` (call inside the transaction that writes them)."""
    if not len(ids):
        return
    codes, scales = quantize(vectors)
    db.conn.executemany(
        "INSERT OR REPLACE INTO proposition_vectors (proposition_id, model, scale, vector) VALUES (?, ?, ?, ?)",
        [(int(i), MODEL_KEY, float(s), c.tobytes()) for i, s, c in zip(ids, scales, codes)],
    )


def embed_and_write(db, items: list[tuple[int, str]], user_name: str = "") -> bool:
    """Embed (id, text) pairs and store them; False (nothing written) when the model is not installed."""
    enc = embeddings.try_encoder()
    if enc is None or not items:
        return False
    vecs = enc.encode([dense_text(t, user_name) for _, t in items])
    write(db, [i for i, _ in items], vecs)
    return True


def missing(db, limit: int | None = None) -> list[tuple[int, str]]:
    """Active propositions without a vector, newest first (written before the model was installed)."""
    sql = ("SELECT p.id, p.text FROM propositions p LEFT JOIN proposition_vectors v ON v.proposition_id = p.id "
           "WHERE v.proposition_id IS NULL AND p.status = 'active' ORDER BY p.id DESC")
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [(r[0], r[1]) for r in db.execute(sql).fetchall()]


def backfill(db, user_name: str = "", *, limit: int | None = None, batch: int = 256) -> int:
    """Embed propositions that have no vector yet; returns how many were written."""
    done = 0
    while limit is None or done < limit:
        todo = missing(db, batch if limit is None else min(batch, limit - done))
        if not todo or not embed_and_write(db, todo, user_name):
            break
        db.conn.commit() if not db.conn.in_transaction else None
        done += len(todo)
    return done


@dataclass
class Index:
    """The vectors of one database, in memory: ids ascending, sign bits, int8 rows and scales."""

    ids: object = None
    bits: object = None
    codes: object = None
    scales: object = None
    last_id: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __len__(self) -> int:
        return 0 if self.ids is None else len(self.ids)

    def refresh(self, db) -> None:
        """Append the rows written since the last refresh (a query on the rowid index: ~0.1 ms when none)."""
        import numpy as np

        with self.lock:
            newest = db.execute("SELECT max(proposition_id) FROM proposition_vectors").fetchone()[0] or 0
            if newest <= self.last_id:
                return
            rows = db.execute(
                "SELECT proposition_id, scale, vector FROM proposition_vectors WHERE proposition_id > ? "
                "ORDER BY proposition_id", [self.last_id]).fetchall()
            if not rows:
                return
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            scales = np.fromiter((r[1] for r in rows), dtype=np.float32, count=len(rows))
            codes = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.int8).reshape(len(rows), -1)
            bits = np.packbits(codes > 0, axis=1)
            if self.ids is None:
                self.ids, self.scales, self.codes, self.bits = ids, scales, codes, bits
            else:
                self.ids = np.concatenate([self.ids, ids])
                self.scales = np.concatenate([self.scales, scales])
                self.codes = np.concatenate([self.codes, codes])
                self.bits = np.concatenate([self.bits, bits])
            self.last_id = int(ids[-1])

    def search(self, query_vec, k: int, among: list[int] | None = None) -> list[tuple[int, float]]:
        """The k nearest (proposition id, cosine) to `query_vec`, optionally only among the ids `among`."""
        import numpy as np

        if not len(self):
            return []
        if among is not None:
            wanted = np.unique(np.asarray(list(among), dtype=np.int64))
            pos = np.searchsorted(self.ids, wanted)
            ok = pos < len(self.ids)
            pos, wanted = pos[ok], wanted[ok]
            rows = pos[self.ids[pos] == wanted]
        else:
            rows = None
        n = len(self) if rows is None else len(rows)
        if n == 0:
            return []
        q = np.asarray(query_vec, dtype=np.float32)
        if n > EXACT_UP_TO:
            qbits = np.packbits(q > 0)
            bits = self.bits if rows is None else self.bits[rows]
            # Hamming distance on 8-byte words: 6 popcounts a row instead of 48.
            dist = np.bitwise_count(bits.view(np.uint64) ^ qbits.view(np.uint64)).sum(axis=1, dtype=np.uint16)
            take = min(RESCORE, n)
            cand = np.argpartition(dist, take - 1)[:take]
            cand = cand if rows is None else rows[cand]
        else:
            cand = np.arange(len(self)) if rows is None else rows
        scores = (self.codes[cand].astype(np.float32) @ q) * self.scales[cand]
        top = min(k, len(cand))
        best = np.argpartition(-scores, top - 1)[:top]
        best = best[np.argsort(-scores[best])]
        return [(int(self.ids[cand[i]]), float(scores[i])) for i in best]


_indexes: dict[int, Index] = {}
_indexes_lock = threading.Lock()


def index_for(db) -> Index:
    """The in-memory index of the database `db` (one per connection, refreshed by the caller)."""
    key = id(db.conn)
    with _indexes_lock:
        idx = _indexes.get(key)
        if idx is None:
            idx = _indexes[key] = Index()
    return idx


def forget(db) -> None:
    """Drop the in-memory index of `db` (when its connection closes)."""
    with _indexes_lock:
        _indexes.pop(id(db.conn), None)
