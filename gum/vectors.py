"""Dense retrieval: one sentence embedding per proposition, stored compactly, searched in memory.

The `proposition_vectors` table (owned here) holds each proposition's all-MiniLM-L6-v2 vector quantised to
int8 with one scale (388 bytes instead of 1.5 KB of float32). A query does not read the table: the vectors are
loaded once per process into memory (the new rows are appended at each query, found by rowid), as
  - sign bits (48 bytes a proposition: 4.8 MB at 100k), compared by Hamming distance to pick candidates
    (kept word by word: six arrays of 64-bit words, so the distance is six passes over contiguous memory), and
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


def _db(db):
    """The Database of a Store (callers outside the store layer pass their Store), or the Database itself."""
    return getattr(db, "db", db)


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
    db = _db(db)
    if not len(ids):
        return
    codes, scales = quantize(vectors)
    db.conn.executemany(
        "INSERT OR REPLACE INTO proposition_vectors (proposition_id, model, scale, vector) VALUES (?, ?, ?, ?)",
        [(int(i), MODEL_KEY, float(s), c.tobytes()) for i, s, c in zip(ids, scales, codes)],
    )


def embed_and_write(db, items: list[tuple[int, str]], user_name: str = "") -> bool:
    """Embed (id, text) pairs and store them; False (nothing written) when the model is not installed."""
    db = _db(db)
    enc = embeddings.try_encoder()
    if enc is None or not items:
        return False
    vecs = enc.encode([dense_text(t, user_name) for _, t in items])
    write(db, [i for i, _ in items], vecs)
    return True


def missing(db, limit: int | None = None, after: int = 0) -> list[tuple[int, str]]:
    """Active propositions with id > `after` and no vector (written before the model was installed)."""
    db = _db(db)
    sql = ("SELECT p.id, p.text FROM propositions p LEFT JOIN proposition_vectors v ON v.proposition_id = p.id "
           "WHERE p.id > ? AND v.proposition_id IS NULL AND p.status = 'active' ORDER BY p.id")
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [(r[0], r[1]) for r in db.execute(sql, [after]).fetchall()]


def backfill(db, user_name: str = "", *, limit: int | None = None, batch: int = 256) -> int:
    """Embed propositions that have no vector yet; returns how many were written.

    Where the database has been checked up to (its index's `checked_to`) is remembered, so a query at 100k
    propositions does not scan them all again: only propositions newer than that are looked at.
    """
    db = _db(db)
    idx = index_for(db)
    done = 0
    while limit is None or done < limit:
        want = batch if limit is None else min(batch, limit - done)
        newest = db.execute("SELECT max(id) FROM propositions").fetchone()[0] or 0
        if newest <= idx.checked_to:
            break
        todo = missing(db, want, after=idx.checked_to)
        if len(todo) < want:
            idx.checked_to = newest  # nothing else is missing below the newest id
        if not todo or not embed_and_write(db, todo, user_name):
            break
        if not db.conn.in_transaction:
            db.conn.commit()
        done += len(todo)
        if len(todo) == want:
            idx.checked_to = todo[-1][0]
    return done


@dataclass
class Index:
    """The vectors of one database, in memory: ids ascending, sign bits, int8 rows and scales.

    One per database file, shared by the threads that query it (each has its own connection); a refresh
    swaps in new arrays at once, so a search running meanwhile sees the old set or the new one, whole.
    """

    data: tuple | None = None  # (ids, bits, codes, scales); bits: (6, n) uint64, one row per 64-bit word
    last_id: int = 0
    checked_to: int = 0  # propositions up to this id have a vector, or are not active (see backfill)
    # Up to EXACT_UP_TO rows, a float32 copy (scale applied) is kept for exact scoring: 15 MB at 10k, and it
    # saves converting every int8 row at every query.
    dense: object = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __len__(self) -> int:
        return 0 if self.data is None else len(self.data[0])

    def refresh(self, db) -> None:
        """Append the rows written since the last refresh (a query on the rowid index: ~0.1 ms when none)."""
        db = _db(db)
        import numpy as np

        newest = db.execute("SELECT max(proposition_id) FROM proposition_vectors").fetchone()[0] or 0
        if newest <= self.last_id:
            return
        with self.lock:
            rows = db.execute(
                "SELECT proposition_id, scale, vector FROM proposition_vectors WHERE proposition_id > ? "
                "ORDER BY proposition_id", [self.last_id]).fetchall()
            if not rows:
                return
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            scales = np.fromiter((r[1] for r in rows), dtype=np.float32, count=len(rows))
            codes = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.int8).reshape(len(rows), -1)
            bits = sign_words(codes)
            if self.data is not None:
                old = self.data
                ids, codes, scales = (np.concatenate([a, b]) for a, b in zip(
                    (old[0], old[2], old[3]), (ids, codes, scales)))
                bits = np.concatenate([old[1], bits], axis=1)
            self.dense = (codes.astype(np.float32) * scales[:, None]) if len(ids) <= EXACT_UP_TO else None
            self.data = (ids, bits, codes, scales)
            self.last_id = int(ids[-1])

    def search(self, query_vec, k: int, among: list[int] | None = None) -> list[tuple[int, float]]:
        """The k nearest (proposition id, cosine) to `query_vec`, optionally only among the ids `among`."""
        import numpy as np

        if self.data is None:
            return []
        all_ids, all_bits, all_codes, all_scales = self.data
        full = self.dense
        rows = None
        if among is not None:
            wanted = np.unique(np.asarray(list(among), dtype=np.int64))
            pos = np.searchsorted(all_ids, wanted)
            ok = pos < len(all_ids)
            pos, wanted = pos[ok], wanted[ok]
            rows = pos[all_ids[pos] == wanted]
        n = len(all_ids) if rows is None else len(rows)
        if n == 0:
            return []
        q = np.asarray(query_vec, dtype=np.float32)
        if n > EXACT_UP_TO:
            dist = _hamming(all_bits if rows is None else all_bits[:, rows], q)
            cand = _nearest(dist, min(RESCORE, n))
            cand = cand if rows is None else rows[cand]
        else:
            cand = np.arange(n) if rows is None else rows
        if rows is None and n <= EXACT_UP_TO and full is not None and len(full) == n:
            scores = full @ q
        else:
            scores = (all_codes[cand].astype(np.float32) @ q) * all_scales[cand]
        top = min(k, len(cand))
        best = np.argpartition(-scores, top - 1)[:top]
        best = best[np.argsort(-scores[best])]
        return [(int(all_ids[cand[i]]), float(scores[i])) for i in best]


    def cosines(self, query_vec, ids: list[int]) -> dict[int, float]:
        """The cosine of `query_vec` with each of `ids` that has a vector."""
        import numpy as np

        if self.data is None or not ids:
            return {}
        all_ids, _, all_codes, all_scales = self.data
        wanted = np.unique(np.asarray(list(ids), dtype=np.int64))
        pos = np.searchsorted(all_ids, wanted)
        ok = pos < len(all_ids)
        pos, wanted = pos[ok], wanted[ok]
        rows = pos[all_ids[pos] == wanted]
        scores = (all_codes[rows].astype(np.float32) @ np.asarray(query_vec, dtype=np.float32)) * all_scales[rows]
        return {int(all_ids[r]): float(c) for r, c in zip(rows, scores)}


def sign_words(codes):
    """The sign bits of int8 rows as Index keeps them: (words, n) uint64, a row per 64 dimensions."""
    import numpy as np

    return np.ascontiguousarray(np.packbits(np.asarray(codes) > 0, axis=1).view(np.uint64).T)


def _hamming(bits, q):
    """Hamming distance between the sign bits of `q` and each column of `bits` ((words, n) uint64).

    One word at a time into preallocated buffers: 1 ms at 100k rows, against 5 ms for the XOR and row sums
    of an (n, words) array, which allocate and reduce along the short axis."""
    import numpy as np

    qwords = np.packbits(np.asarray(q) > 0).view(np.uint64)
    n = bits.shape[1]
    dist = np.zeros(n, dtype=np.uint16)
    word = np.empty(n, dtype=np.uint64)
    count = np.empty(n, dtype=np.uint8)
    for j in range(bits.shape[0]):
        np.bitwise_xor(bits[j], qwords[j], out=word)
        np.bitwise_count(word, out=count)
        dist += count
    return dist


def _nearest(dist, k: int):
    """Positions of the k smallest distances (ties at the cut broken arbitrarily), in no order.

    Distances are small integers (0..384): a histogram finds the cut in one pass, and only the rows at or
    under it are gathered; 3x faster than argpartition at 1M rows.
    """
    import numpy as np

    counts = np.bincount(dist, minlength=1)
    cut = int(np.searchsorted(np.cumsum(counts), k))
    cand = np.flatnonzero(dist <= cut)
    if len(cand) > k:  # the rows at the cut itself: keep only as many as needed
        cand = cand[np.argpartition(dist[cand], k - 1)[:k]]
    return cand


_indexes: dict[str, Index] = {}
_indexes_lock = threading.Lock()


def _key(db) -> str:
    db = _db(db)
    # The database file: every thread's connection to it shares one index. An in-memory or temporary
    # database has no file, and its own index.
    path = db.execute("PRAGMA database_list").fetchone()[2]
    return path or f"conn:{id(db.conn)}"


def index_for(db) -> Index:
    """The in-memory index of the database `db` (refreshed by the caller)."""
    db = _db(db)
    key = _key(db)
    with _indexes_lock:
        idx = _indexes.get(key)
        if idx is None:
            idx = _indexes[key] = Index()
    return idx


def forget(db) -> None:
    """Drop the in-memory index of `db`'s file (when a store closes: a later open reloads it)."""
    db = _db(db)
    try:
        key = _key(db)
    except Exception:  # noqa: BLE001 - a connection already closed has nothing to forget
        return
    with _indexes_lock:
        _indexes.pop(key, None)
