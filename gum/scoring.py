"""Scores of `gum eval`, as pure functions: fact matching, recall@k, false-claim rate, Brier and reliability.

    recall@k          true facts whose query (the fact's text) returns a matching proposition in the top k
                      / true facts
    question-recall@k the same with the fact's `question` as the query ("which accounting software does she
                      use?"), over the true facts that have one
    false-claim rate  false facts matched by any active proposition / false facts
    Brier             mean of (c/10 - truth)^2 over active propositions that match at least one fact, where
                      truth is 0 if the proposition matches any false fact and 1 otherwise
    junk share        active propositions gum.wellformed finds junk in (by class) / active propositions
    Brier (all kept)  the same mean over every active proposition, where truth is 1 only for a well-formed
                      proposition that claims no false fact (and, with a judge, that the judge finds true)

Matching is deterministic: a proposition matches a fact when every keyword group of the fact has at least one
alternative in the proposition's text, case-insensitive, on word boundaries, several words as a phrase.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from .scenario import Fact

# A matcher says whether a proposition's text states a fact.
Matcher = Callable[[str, Fact], bool]


@lru_cache(maxsize=4096)
def _pattern(alternative: str) -> re.Pattern:
    # Look-arounds instead of \b: an alternative that starts or ends with a non-word character ("$300",
    # "C++") must still match, and must still not sit inside a longer word.
    words = alternative.split()
    body = r"\s+".join(re.escape(w) for w in words)
    return re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE)


def keyword_match(text: str, groups: Iterable[Iterable[str]]) -> bool:
    """Whether every group has at least one alternative in `text` (case-insensitive, on word boundaries)."""
    groups = list(groups)
    return bool(groups) and all(any(_pattern(alt).search(text) for alt in group) for group in groups)


def keyword_matcher(text: str, fact: Fact) -> bool:
    """The default matcher: the fact's keyword groups."""
    return keyword_match(text, fact.groups)


@dataclass
class Claim:
    """An active proposition at the end of a run, with the facts it matches."""

    id: int
    text: str
    confidence: int
    matches: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # gum.wellformed classes; empty when well-formed
    judged_true: bool | None = None  # a judge's reading of the claim against its evidence, when one was asked

    def acceptable(self, facts: dict[str, Fact]) -> bool:
        """Well-formed, claims no false fact, and (when a judge read it) true: what a reader would accept."""
        return not self.problems and self.truth(facts) is not False and self.judged_true is not False

    def truth(self, facts: dict[str, Fact]) -> bool | None:
        """True if it matches only true facts, False if it matches any false fact, None if it matches none."""
        if not self.matches:
            return None
        return all(facts[m].true for m in self.matches)


@dataclass
class FactResult:
    """How one fact fared: which propositions match it anywhere, and (true facts) its rank in its query."""

    id: str
    text: str
    true: bool
    matched_by: list[int] = field(default_factory=list)
    rank: int | None = None  # 1-based position of the first matching result of the fact's query, within k
    question_rank: int | None = None  # the same for the fact's question
    question: str = ""

    @property
    def recalled(self) -> bool:
        return self.rank is not None


@dataclass
class ReliabilityRow:
    """Propositions at one confidence level: how many, the probability claimed, the share that were true."""

    confidence: int
    n: int
    true: int

    @property
    def predicted(self) -> float:
        return self.confidence / 10

    @property
    def observed(self) -> float:
        return self.true / self.n if self.n else 0.0


@dataclass
class Scores:
    """The scores of one scenario, or of several pooled."""

    true_facts: int = 0
    recalled: int = 0
    matched_true: int = 0  # true facts matched by any active proposition (recall without the query step)
    false_facts: int = 0
    false_claims: int = 0
    pairs: list[tuple[int, bool]] = field(default_factory=list)  # (confidence, truth) of matching claims
    claims: int = 0  # active propositions
    unmatched_claims: int = 0  # active propositions that match no fact
    questions: int = 0  # true facts with a question
    question_recalled: int = 0
    junk: int = 0  # active propositions with at least one well-formedness problem
    junk_classes: dict[str, int] = field(default_factory=dict)
    all_pairs: list[tuple[int, bool]] = field(default_factory=list)  # (confidence, acceptable) of every claim

    @property
    def recall_at_k(self) -> float | None:
        return self.recalled / self.true_facts if self.true_facts else None

    @property
    def question_recall_at_k(self) -> float | None:
        return self.question_recalled / self.questions if self.questions else None

    @property
    def recall_any(self) -> float | None:
        return self.matched_true / self.true_facts if self.true_facts else None

    @property
    def false_claim_rate(self) -> float | None:
        return self.false_claims / self.false_facts if self.false_facts else None

    @property
    def brier(self) -> float | None:
        return brier(self.pairs)

    @property
    def reliability(self) -> list[ReliabilityRow]:
        return reliability(self.pairs)

    @property
    def junk_share(self) -> float | None:
        return self.junk / self.claims if self.claims else None

    @property
    def brier_all(self) -> float | None:
        return brier(self.all_pairs)

    @property
    def reliability_all(self) -> list[ReliabilityRow]:
        return reliability(self.all_pairs)

    def as_dict(self) -> dict:
        return {
            "recall_at_k": _round(self.recall_at_k),
            "recalled": self.recalled,
            "true_facts": self.true_facts,
            "question_recall_at_k": _round(self.question_recall_at_k),
            "question_recalled": self.question_recalled,
            "questions": self.questions,
            "recall_any": _round(self.recall_any),
            "matched_true": self.matched_true,
            "false_claim_rate": _round(self.false_claim_rate),
            "false_claims": self.false_claims,
            "false_facts": self.false_facts,
            "brier": _round(self.brier),
            "scored_claims": len(self.pairs),
            "claims": self.claims,
            "unmatched_claims": self.unmatched_claims,
            "junk": self.junk,
            "junk_share": _round(self.junk_share),
            "junk_classes": dict(sorted(self.junk_classes.items())),
            "brier_all": _round(self.brier_all),
            "reliability_all": [
                {"confidence": r.confidence, "n": r.n, "true": r.true, "predicted": r.predicted,
                 "observed": round(r.observed, 4)}
                for r in self.reliability_all
            ],
            "reliability": [
                {"confidence": r.confidence, "n": r.n, "true": r.true, "predicted": r.predicted,
                 "observed": round(r.observed, 4)}
                for r in self.reliability
            ],
        }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def brier(pairs: Iterable[tuple[int, bool]]) -> float | None:
    """Mean squared gap between confidence/10 and truth (0 best, 1 worst); None with nothing to score."""
    pairs = list(pairs)
    if not pairs:
        return None
    return sum((c / 10 - (1.0 if t else 0.0)) ** 2 for c, t in pairs) / len(pairs)


def reliability(pairs: Iterable[tuple[int, bool]]) -> list[ReliabilityRow]:
    """One row per confidence level that occurs, lowest first."""
    rows: dict[int, ReliabilityRow] = {}
    for c, t in pairs:
        row = rows.setdefault(c, ReliabilityRow(confidence=c, n=0, true=0))
        row.n += 1
        row.true += bool(t)
    return [rows[c] for c in sorted(rows)]


def match_claims(claims: list[Claim], facts: list[Fact], matcher: Matcher = keyword_matcher) -> None:
    """Fill each claim's `matches` with the ids of the facts it states."""
    for claim in claims:
        claim.matches = [f.id for f in facts if matcher(claim.text, f)]


def _first_hit(ids: list[int], hits: set[int], k: int) -> int | None:
    for pos, pid in enumerate(ids[:k], 1):
        if pid in hits:
            return pos
    return None


def check_form(claims: list[Claim], user: str) -> None:
    """Fill each claim's `problems` with the well-formedness classes it falls in (gum.wellformed)."""
    from .wellformed import problems

    for claim in claims:
        claim.problems = problems(claim.text, user)


def score(
    facts: list[Fact], claims: list[Claim], retrieved: dict[str, list[int]], k: int,
    asked: dict[str, list[int]] | None = None,
) -> tuple[Scores, list[FactResult]]:
    """Scores of one scenario from its matched claims and, per true fact, the ids its query returned
    (`retrieved`: queried with the fact's text; `asked`: with its question, for facts that have one)."""
    by_id = {f.id: f for f in facts}
    matching = {c.id for c in claims if c.matches}
    results = []
    s = Scores(claims=len(claims), unmatched_claims=len(claims) - len(matching))
    for fact in facts:
        r = FactResult(id=fact.id, text=fact.text, true=fact.true,
                       matched_by=[c.id for c in claims if fact.id in c.matches])
        if fact.true:
            s.true_facts += 1
            s.matched_true += bool(r.matched_by)
            hits = set(r.matched_by)
            r.rank = _first_hit(retrieved.get(fact.id, []), hits, k)
            s.recalled += r.recalled
            if fact.question and asked is not None:
                r.question = fact.question
                s.questions += 1
                r.question_rank = _first_hit(asked.get(fact.id, []), hits, k)
                s.question_recalled += r.question_rank is not None
        else:
            s.false_facts += 1
            s.false_claims += bool(r.matched_by)
        results.append(r)
    s.pairs = [(c.confidence, bool(c.truth(by_id))) for c in claims if c.matches]
    s.all_pairs = [(c.confidence, c.acceptable(by_id)) for c in claims]
    s.junk = sum(1 for c in claims if c.problems)
    for c in claims:
        for p in c.problems:
            s.junk_classes[p] = s.junk_classes.get(p, 0) + 1
    return s, results


def pooled(all_scores: Iterable[Scores]) -> Scores:
    """Scores over several scenarios, pooled (every fact and claim weighs the same)."""
    total = Scores()
    for s in all_scores:
        total.true_facts += s.true_facts
        total.recalled += s.recalled
        total.matched_true += s.matched_true
        total.false_facts += s.false_facts
        total.false_claims += s.false_claims
        total.pairs += s.pairs
        total.claims += s.claims
        total.unmatched_claims += s.unmatched_claims
        total.questions += s.questions
        total.question_recalled += s.question_recalled
        total.junk += s.junk
        total.all_pairs += s.all_pairs
        for k, v in s.junk_classes.items():
            total.junk_classes[k] = total.junk_classes.get(k, 0) + v
    return total
