"""How propositions are ranked for a query: BM25 relevance x recency (from durability) x confidence, then MMR.

Decay means durability. A proposition's decay score d (1-10) sets its half-life:

    half_life_days = 0.5 x 2^(d - 1)      d=1: 12 hours, d=5: 8 days, d=8: 64 days, d=10: 256 days

so a long-lasting proposition ("is a nurse", d=10) keeps its weight for months, while "is reading an email"
(d=1) fades within a day. The recency factor is 0.2 + 0.8 x 0.5^(age / half_life): it never reaches zero, so
an old proposition that is the only match for a query still comes back, just below fresher ones. The age
counts from the last time evidence was added (updated_at).

    score = relevance x recency x (confidence / 10)

where relevance is BM25 normalised to 0..1 over the candidates. Then maximal marginal relevance picks the
results one by one, trading score against similarity to what was already picked (lambda = 0.7); a
restatement of a result already picked (similarity >= 0.75) goes after everything else, so five
rephrasings of one claim do not fill the page.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from .records import Proposition, utcnow
from .similarity import overlap, terms

MMR_LAMBDA = 0.7
DUPLICATE = 0.75  # as similar as the engine's "identical"
# MMR picks the results among the best POOL_PER_RESULT x limit by score (at least MIN_POOL): a result ranked
# lower than that by score is not worth its diversity. The pool was 60 whatever the limit; MMR's pairwise
# comparisons were then a fifth of a query's time at 100k propositions (bench_retrieval.py --profile).
POOL_PER_RESULT = 3
MIN_POOL = 20


def half_life_days(decay: int) -> float:
    return 0.5 * 2 ** (max(1, min(10, decay)) - 1)


def recency(prop: Proposition, now: datetime | None = None) -> float:
    now = now or utcnow()
    age_days = max(0.0, (now - (prop.updated_at or now)).total_seconds() / 86400)
    return 0.2 + 0.8 * 0.5 ** (age_days / half_life_days(prop.decay))


@lru_cache(maxsize=16_384)
def _terms(text: str, ignore: frozenset[str]) -> frozenset[str]:
    # The same propositions come back query after query: their term sets are computed once.
    return frozenset(terms(text, ignore))


def rank(
    candidates: list[tuple[Proposition, float]], limit: int, *, now: datetime | None = None, mmr: bool = True,
    ignore: frozenset[str] = frozenset(),
) -> list[Proposition]:
    """Order (proposition, bm25 relevance) pairs by score, diversified by MMR; sets each one's .score.

    `ignore`: words MMR does not count when it compares two propositions (the user's name: it is in nearly
    all of them, and would make two unrelated short claims look like restatements of each other).
    """
    if not candidates:
        return []
    top = max(rel for _, rel in candidates) or 1.0
    scored = []
    for prop, rel in candidates:
        prop.score = (rel / top) * recency(prop, now) * (prop.confidence / 10)
        scored.append(prop)
    scored.sort(key=lambda p: p.score, reverse=True)
    if not mmr:
        return scored[:limit]
    pool = scored[:max(MIN_POOL, POOL_PER_RESULT * limit)]
    best = pool[0].score or 1.0
    term_sets = {id(p): _terms(p.text, ignore) for p in pool}
    picked: list[Proposition] = []
    redundancy = {id(p): 0.0 for p in pool}
    while pool and len(picked) < limit:
        def mmr_value(p: Proposition) -> float:
            r = redundancy[id(p)]
            # A restatement of a result already shown goes after everything else.
            penalty = 1.0 if r >= DUPLICATE else 0.0
            return MMR_LAMBDA * (p.score / best) - (1 - MMR_LAMBDA) * r - penalty

        choice = max(pool, key=mmr_value)
        picked.append(choice)
        pool.remove(choice)
        chosen = term_sets[id(choice)]
        for p in pool:
            # Most candidates share no word with the one picked (the name aside): their redundancy stays.
            if not chosen.isdisjoint(term_sets[id(p)]):
                redundancy[id(p)] = max(redundancy[id(p)], overlap(term_sets[id(p)], chosen))
    return picked


def by_recency(props: list[Proposition], limit: int, now: datetime | None = None) -> list[Proposition]:
    """For `recent`: newest first, but a durable, confident proposition outlives a fleeting one."""
    for p in props:
        p.score = recency(p, now) * (p.confidence / 10)
    return sorted(props, key=lambda p: (p.updated_at, p.score), reverse=True)[:limit]
