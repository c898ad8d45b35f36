"""Queries over propositions, shared by the CLI, the Python API, the HTTP API and the MCP tool.

A query is read as a question (gum.question: content words, time window, text to embed), then two retrievers
each propose candidates among the active propositions in the window:
  - BM25 (SQLite FTS5) over the content words, without the user's name and question words;
  - dense: the cosine between the question's and each proposition's all-MiniLM-L6-v2 embedding (gum.vectors).
Their ranks are fused by reciprocal rank fusion, and the fused relevance goes to ranking.rank (x recency x
confidence, then MMR). Without the embedding model installed, BM25 alone ranks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from . import question as questions
from . import similarity, vectors
from .ranking import by_recency, rank, recency
from .records import Proposition, utcnow
from .store import Store
from .times import parse_time

# How many candidates each retriever hands to the fusion.
BM25_CANDIDATES = 50
DENSE_CANDIDATES = 50
# Reciprocal rank fusion: relevance = sum over retrievers of weight / (RRF_K + rank). A small K makes the top
# ranks count: with 10,000 propositions the first few of each retriever are where the answer is.
RRF_K = 10
DENSE_WEIGHT = 1.0
BM25_WEIGHT = 1.0
FUSION = "mix"
# A dense candidate less similar than this (cosine) to the question is not about it (MiniLM puts unrelated
# sentences at 0-0.15): it is dropped unless BM25 found it too.
DENSE_FLOOR = 0.15
# Relevance is raised to this power before recency x confidence multiply it, so that those (0.02..1) reorder
# results of similar relevance but do not lift an off-topic, confident, fresh proposition over the answer.
RELEVANCE_POWER = 2.0
# A term in more than this share of the propositions (the user's name when it is not known, "uses") costs
# FTS5 a bm25() per matching row and barely moves the ranking: it is left out of the lexical query.
COMMON_TERM_SHARE = 0.05
COMMON_TERM_MIN_ROWS = 200
# At most this many matching rows (summed over the lexical terms) for one BM25 query: see lexical_terms.
POSTINGS_BUDGET = 1500


@dataclass
class Explanation:
    """Why a result ranks where it does: each part of its score."""

    bm25_rank: int | None = None
    bm25: float | None = None
    dense_rank: int | None = None
    dense: float | None = None
    relevance: float = 0.0
    recency: float = 0.0
    confidence: float = 0.0
    score: float = 0.0

    def as_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


@dataclass
class QueryTrace:
    """What a query did: the question as read, the window, the timings (ms), each result's explanation."""

    question: questions.Question | None = None
    since: datetime | None = None
    until: datetime | None = None
    bm25_terms: list[str] = field(default_factory=list)
    dense_used: bool = False
    timings: dict = field(default_factory=dict)
    explain: dict = field(default_factory=dict)  # proposition id -> Explanation

    def as_dict(self) -> dict:
        q = self.question
        return {
            "terms": q.terms if q else [], "bm25_terms": self.bm25_terms, "dense_text": q.dense if q else "",
            "time_phrase": q.time_phrase if q else "", "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None, "dense": self.dense_used,
            "timings_ms": {k: round(v, 2) for k, v in self.timings.items()},
        }

    def describe(self) -> str:
        """A few lines for people: how the question was read and where the time went."""
        d = self.as_dict()
        window = ""
        if d["since"] or d["until"]:
            window = f"; window {d['since'] or '...'} to {d['until'] or 'now'} (from {d['time_phrase']!r})" \
                if d["time_phrase"] else f"; window {d['since'] or '...'} to {d['until'] or 'now'}"
        lines = [(f"lexical terms: {' '.join(d['bm25_terms']) or '(none)'}; embedded: {d['dense_text']!r}"
                  f"{'' if d['dense'] else ' (dense retrieval off: no embedding model)'}{window}"),
                 "time: " + ", ".join(f"{k.removesuffix('_ms')} {v:.1f} ms" for k, v in d["timings_ms"].items())]
        return "\n".join(lines)


_df_cache: dict[tuple[int, str], tuple[int, int]] = {}


def _df(store: Store, term: str, total: int) -> int:
    """How many propositions `term` matches, counted no further than one past what lexical_terms would keep
    (cached per database; recounted when the database has grown by a tenth)."""
    if total < COMMON_TERM_MIN_ROWS:
        return 0
    key = (store.connection_key, term)
    hit = _df_cache.get(key)
    if hit is not None and abs(hit[0] - total) <= total * 0.1:
        return hit[1]
    n = store.match_count(term, _cap(total) + 1)
    if len(_df_cache) > 50_000:
        _df_cache.clear()
    _df_cache[key] = (total, n)
    return n


def _cap(total: int) -> int:
    # The most rows one term may match and still go to BM25 beside rarer ones.
    return min(int(total * COMMON_TERM_SHARE), POSTINGS_BUDGET)


def lexical_terms(store: Store, terms: list[str], total: int) -> list[str]:
    """The question's terms that go to BM25: no common ones, and no more matching rows than POSTINGS_BUDGET.

    FTS5 computes bm25() for every row that matches any term before it can sort, so a query costs ~4 ms per
    1,000 matching rows (measured at 100k propositions). The rarest terms are kept first (they carry the
    ranking); a commoner one that would take the query past the budget is left to the dense retriever.
    The rarest term is kept whatever its count, so a question with only common words still matches (terms are
    counted no further than the cap: among those past it, the question's first).
    """
    if total < COMMON_TERM_MIN_ROWS:
        return list(terms)
    cap = _cap(total)
    counts = {w: _df(store, w, total) for w in terms}
    kept, spent = set(), 0
    for w in sorted(terms, key=lambda w: counts[w]):
        if kept and (counts[w] > cap or spent + counts[w] > POSTINGS_BUDGET):
            break
        kept.add(w)
        spent += counts[w]
    return [w for w in terms if w in kept]


@lru_cache(maxsize=64)
def _name_terms(user_name: str) -> frozenset[str]:
    return frozenset(similarity.terms(user_name or ""))


def _intersect(a: datetime | None, b: datetime | None, later: bool) -> datetime | None:
    if a is None or b is None:
        return a or b
    return max(a, b) if later else min(a, b)


def query(
    store: Store, text: str, *, limit: int = 10, since=None, until=None, now: datetime | None = None,
    user_name: str | None = None, trace: QueryTrace | None = None, dense: bool = True,
) -> list[Proposition]:
    """Active propositions for the question `text`, best first (see the module docstring).

    `since`/`until` (or a time phrase in the text, intersected with them) limit the window. Pass a QueryTrace
    to see how each result scored (`gum query --explain`).
    """
    t0 = time.perf_counter()
    now_t = now or utcnow()
    trace = trace if trace is not None else QueryTrace()
    q = questions.parse(text, store.user_name if user_name is None else user_name, now_t)
    since = _intersect(parse_time(since, now), q.since, later=True)
    until = _intersect(parse_time(until, now), q.until, later=False)
    trace.question, trace.since, trace.until = q, since, until
    if not q.terms:
        # Nothing to match ("what is she doing?", "what happened yesterday?"): the newest in the window.
        props = store.propositions(limit=max(limit, 50), since=since, until=until)
        results = by_recency(props, limit, now=now)
        for p in results:
            trace.explain[p.id] = Explanation(recency=recency(p, now), confidence=p.confidence / 10, score=p.score)
        trace.timings["total_ms"] = (time.perf_counter() - t0) * 1000
        return results
    # The question's vector is computed on the encoder's thread while BM25 runs on this one.
    enc = _encoder() if dense and q.dense.strip() else None
    pending = None
    if enc is not None:
        asked_at = time.perf_counter()
        pending = enc.encode_query_soon(q.dense)
        pending.add_done_callback(
            lambda _: trace.timings.__setitem__("embed_ms", (time.perf_counter() - asked_at) * 1000))
    terms = lexical_terms(store, q.terms, store.size_estimate())
    trace.bm25_terms = terms
    t1 = time.perf_counter()
    lexical = store.search(" ".join(terms), limit=BM25_CANDIDATES, since=since, until=until) if terms else []
    t2 = time.perf_counter()
    trace.timings["parse_ms"] = (t1 - t0) * 1000
    trace.timings["bm25_ms"] = (t2 - t1) * 1000
    semantic: list[tuple[Proposition, float]] = []
    qvec = idx = None
    if pending is not None:
        semantic, qvec, idx = _dense(store, pending, since, until, trace, {p.id: p for p, _ in lexical})
    trace.dense_used = qvec is not None
    t3 = time.perf_counter()
    props: dict[int, Proposition] = {}
    parts: dict[int, Explanation] = {}
    for r, (p, rel) in enumerate(lexical, 1):
        props[p.id] = p
        parts[p.id] = Explanation(bm25_rank=r, bm25=rel)
    for r, (p, cos) in enumerate(semantic, 1):
        props.setdefault(p.id, p)
        e = parts.setdefault(p.id, Explanation())
        e.dense_rank, e.dense = r, cos
    if qvec is not None:
        # BM25's candidates beyond the dense top get their cosine too: fusion then weighs both signals for all.
        for pid, cos in idx.cosines(qvec, [pid for pid, e in parts.items() if e.dense is None]).items():
            parts[pid].dense = cos
    fused = [(props[pid], rel) for pid, rel in fuse(parts).items()]
    relevance = {p.id: f for p, f in fused}
    results = rank(fused, limit, now=now, ignore=_name_terms(store.user_name if user_name is None else user_name))
    for p in results:
        e = parts[p.id]
        e.relevance = relevance[p.id]
        e.recency = recency(p, now)
        e.confidence = p.confidence / 10
        e.score = p.score
        trace.explain[p.id] = e
    trace.timings["fuse_rank_ms"] = (time.perf_counter() - t3) * 1000
    trace.timings["total_ms"] = (time.perf_counter() - t0) * 1000
    return results


def fuse(parts: dict[int, Explanation]) -> dict[int, float]:
    """Relevance 0..1 per candidate from its BM25 and dense parts (see the constants above)."""
    if FUSION == "rrf":
        raw = {pid: (BM25_WEIGHT / (RRF_K + e.bm25_rank) if e.bm25_rank else 0.0)
               + (DENSE_WEIGHT / (RRF_K + e.dense_rank) if e.dense_rank else 0.0) for pid, e in parts.items()}
    else:
        best_bm25 = max((e.bm25 for e in parts.values() if e.bm25 is not None), default=0.0) or 1.0
        cosines = sorted((e.dense for e in parts.values() if e.dense_rank is not None), reverse=True)
        best_cos = max([*cosines, *(e.dense for e in parts.values() if e.dense is not None)], default=DENSE_FLOOR)
        # Cosines count from the dense cut (the last dense candidate's), not from zero: in a large memory
        # every proposition is ~0.4 from a question, and only the margin above that says anything.
        floor = max(DENSE_FLOOR, cosines[-1] if len(cosines) >= DENSE_CANDIDATES else DENSE_FLOOR)
        span = max(best_cos - floor, 1e-6)
        raw = {}
        for pid, e in parts.items():
            lex = (e.bm25 / best_bm25) if e.bm25 is not None else 0.0
            sem = max(0.0, (e.dense - floor) / span) if e.dense is not None else 0.0
            raw[pid] = BM25_WEIGHT * lex + DENSE_WEIGHT * sem
    top = max(raw.values(), default=1.0) or 1.0
    return {pid: (r / top) ** RELEVANCE_POWER for pid, r in raw.items() if r > 0}


def _encoder():
    from . import embeddings

    return embeddings.try_encoder()


def _dense(store: Store, pending, since, until, trace: QueryTrace, known: dict[int, Proposition]):
    """The propositions nearest to the question by embedding, among the active ones in the window (with
    their cosines), the question's vector and the index.

    `pending`: the future of the question's vector (Encoder.encode_query_soon). `known`: propositions
    already read (BM25's), not read again.
    """
    t0 = time.perf_counter()
    # Propositions written before the model was installed catch up a few at a time.
    vectors.backfill(store, store.user_name, limit=32)
    idx = vectors.index_for(store)
    idx.refresh(store)
    t1 = time.perf_counter()
    qvec = pending.result()
    t2 = time.perf_counter()
    among = None
    if since is not None or until is not None:
        ids = store.ids_in_window(since, until, cap=vectors.EXACT_UP_TO)
        among = ids  # None when the window holds more than the cap: search all, filter after
    want = DENSE_CANDIDATES if among is not None else DENSE_CANDIDATES * 2
    hits = [(pid, c) for pid, c in idx.search(qvec, want, among) if c >= DENSE_FLOOR]
    t3 = time.perf_counter()
    # The index also holds superseded and revoked propositions, and the window is applied here: ask which
    # hits are alive (ids only), then read the rows of the first DENSE_CANDIDATES of them that BM25 did not.
    # Each id looked up costs a page read and decryption (~15 us at 100k): the first DENSE_CANDIDATES + 10
    # are checked, and more only if too few of them are alive.
    alive: set[int] = set(known)
    first = DENSE_CANDIDATES + 10
    alive |= store.alive_ids([pid for pid, _ in hits[:first] if pid not in known], since=since, until=until)
    if sum(pid in alive for pid, _ in hits[:first]) < min(DENSE_CANDIDATES, len(hits)):
        alive |= store.alive_ids([pid for pid, _ in hits[first:] if pid not in known], since=since, until=until)
    hits = [(pid, c) for pid, c in hits if pid in alive][:DENSE_CANDIDATES]
    found = dict(known)
    found.update((p.id, p) for p in store.get_many([pid for pid, _ in hits if pid not in known]))
    out = [(found[pid], c) for pid, c in hits if pid in found]
    t4 = time.perf_counter()
    trace.timings["dense_sync_ms"] = (t1 - t0) * 1000
    trace.timings["embed_wait_ms"] = (t2 - t1) * 1000  # what the embedding added, past the lexical part
    trace.timings["dense_search_ms"] = (t3 - t2) * 1000
    trace.timings["dense_fetch_ms"] = (t4 - t3) * 1000
    return out, qvec, idx


def recent(store: Store, *, limit: int = 10, since=None) -> list[Proposition]:
    """The newest active propositions."""
    props = store.propositions(limit=max(limit, 50), since=parse_time(since))
    return by_recency(props, limit)
