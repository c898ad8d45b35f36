"""Ranking: decay means durability, confidence and relevance weigh in, near-duplicates do not crowd results."""

from __future__ import annotations

from datetime import timedelta

from gum.ranking import half_life_days, recency
from gum.records import Proposition, utcnow
from gum.search import query
from gum.times import parse_time


def add(store, text, *, decay=5, confidence=5, days_old=0.0):
    ts = utcnow() - timedelta(days=days_old)
    return store.insert_proposition(
        Proposition(text=text, confidence=confidence, decay=decay, created_at=ts, updated_at=ts)
    )


def test_a_higher_decay_score_means_a_longer_half_life():
    lives = [half_life_days(d) for d in range(1, 11)]
    assert lives == sorted(lives) and lives[0] == 0.5 and lives[-1] == 256


def test_a_durable_proposition_outranks_a_fleeting_one_of_the_same_age(store):
    fleeting = add(store, "Sam is reading about marathon training", decay=1, days_old=10)
    durable = add(store, "Sam runs marathon training plans", decay=9, days_old=10)
    ids = [p.id for p in query(store, "marathon training")]
    assert ids.index(durable) < ids.index(fleeting)


def test_old_durable_knowledge_is_not_the_first_to_vanish(store):
    # The reference multiplied by exp(-decay * age): long-lasting facts vanished fastest. Not here.
    now = utcnow()
    old_durable = Proposition("x", decay=10, updated_at=now - timedelta(days=60))
    old_fleeting = Proposition("y", decay=1, updated_at=now - timedelta(days=60))
    assert recency(old_durable, now) > 0.8 > recency(old_fleeting, now)
    assert recency(old_fleeting, now) >= 0.2  # a fleeting one fades but never disappears


def test_fresh_beats_stale_and_confident_beats_unsure_when_relevance_is_equal(store):
    stale = add(store, "Sam bakes sourdough bread", decay=3, days_old=30)
    fresh = add(store, "Sam bakes sourdough loaves", decay=3, days_old=0)
    ids = [p.id for p in query(store, "sourdough")]
    assert ids.index(fresh) < ids.index(stale)
    unsure = add(store, "Sam plays chess openings", confidence=2)
    sure = add(store, "Sam plays chess tournaments", confidence=9)
    ids = [p.id for p in query(store, "chess")]
    assert ids.index(sure) < ids.index(unsure)


def test_mmr_keeps_rephrasings_of_one_claim_from_filling_the_results(store):
    for i in range(4):
        add(store, f"Sam uses Figma for design work{'!' * i}", confidence=9)
    other = add(store, "Sam designs posters for the school bake sale in Figma", confidence=6)
    top3 = [p.id for p in query(store, "Figma design", limit=3)]
    assert other in top3


def test_a_short_claim_is_not_held_back_for_sharing_the_users_name_with_what_was_picked():
    from gum.ranking import rank

    now = utcnow()

    def prop(i, text):
        return Proposition(text, confidence=8, decay=8, updated_at=now, id=i)

    first = prop(1, "Sam Lee reads about cooking fresh pasta at home most evenings")
    short = prop(2, "Sam Lee codes Rust")
    other = prop(3, "Sam Lee walks along the river with friends before work on Fridays")
    candidates = [(first, 1.0), (short, 0.9), (other, 0.85)]
    # Counting the name, "Sam Lee codes Rust" shares 2 of its 4 words with the first pick, and MMR would put
    # the less relevant long claim before it.
    assert [p.id for p in rank(candidates, 3, now=now)] == [1, 3, 2]
    assert [p.id for p in rank(candidates, 3, now=now, ignore=frozenset({"sam", "lee"}))] == [1, 2, 3]


def test_since_limits_results_to_recently_updated_propositions(store):
    add(store, "Sam studies Rust lifetimes", days_old=10)
    recent = add(store, "Sam studies Rust async", days_old=0)
    assert [p.id for p in query(store, "Rust", since="2d")] == [recent]
    assert parse_time("3h") < utcnow()


def test_revoked_and_superseded_propositions_never_appear_in_results(store):
    a = add(store, "Sam plays the violin")
    b = add(store, "Sam plays violin in a quartet")
    store.revoke(a)
    newer = store.revise(b, Proposition("Sam plays violin in a string quartet", confidence=5, decay=5))
    assert [p.id for p in query(store, "violin")] == [newer]
