"""Retrieval of questions: what a question asks, the sentence-embedding model, the dense index, fusion,
time phrases, the haystack of `gum eval` and question-recall."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from gum import embeddings, haystack, vectors
from gum.question import parse, time_window
from gum.records import Proposition, utcnow
from gum.scenario import load
from gum.scoring import Claim, keyword_match, match_claims, score
from gum.search import QueryTrace, query

NOW = datetime(2026, 5, 20, 15, 0, tzinfo=timezone.utc)  # a Wednesday


def add(store, text, *, decay=6, confidence=6, days_old=0.0, now=None):
    ts = (now or utcnow()) - timedelta(days=days_old)
    return store.insert_proposition(
        Proposition(text=text, confidence=confidence, decay=decay, created_at=ts, updated_at=ts))


# -- reading a question --------------------------------------------------------------------------------


def test_the_users_name_question_words_and_stop_words_carry_nothing_for_bm25():
    q = parse("Which accounting software does Dana Whitfield use?", "Dana Whitfield", NOW)
    assert q.terms == ["accounting", "software", "use"]
    assert q.dense == "Which accounting software does the user use?"


def test_a_possessive_name_is_dropped_too():
    assert parse("What is Dana's favourite band?", "Dana", NOW).terms == ["favourite", "band"]


@pytest.mark.parametrize("text, since, until", [
    ("what did she do yesterday", datetime(2026, 5, 19, tzinfo=timezone.utc), datetime(2026, 5, 20, tzinfo=timezone.utc)),
    ("what was she reading last week", datetime(2026, 5, 11, tzinfo=timezone.utc),
     datetime(2026, 5, 18, tzinfo=timezone.utc)),
    ("anything in March?", datetime(2026, 3, 1, tzinfo=timezone.utc), datetime(2026, 4, 1, tzinfo=timezone.utc)),
    ("what did he buy in December", datetime(2025, 12, 1, tzinfo=timezone.utc),
     datetime(2026, 1, 1, tzinfo=timezone.utc)),
    ("in the past two weeks", NOW - timedelta(days=14), None),
    ("what happened 3 days ago", NOW - timedelta(days=4), NOW - timedelta(days=2)),
    ("what did she do on Monday", datetime(2026, 5, 18, tzinfo=timezone.utc), datetime(2026, 5, 19, tzinfo=timezone.utc)),
])
def test_time_phrases_name_a_window(text, since, until):
    got_since, got_until, phrase = time_window(text, NOW)
    assert (got_since, got_until) == (since, until) and phrase


@pytest.mark.parametrize("text", [
    "Aisha has parent-teacher conferences on Thursday",
    "Is Omar presenting the churn analysis on Thursday?",
    "what does he do on Thursdays",
])
def test_a_weekday_a_plan_falls_on_is_a_word_to_match_not_a_window(text):
    assert time_window(text, NOW) == (None, None, "")
    assert "thursday" in parse(text, "", NOW).terms or "thursdays" in parse(text, "", NOW).terms


def test_a_plan_on_a_weekday_is_found_whenever_its_evidence_was_seen(store):
    store.user_name = "Aisha"
    conferences = add(store, "Aisha has Parent-teacher conferences (7th grade science) on Thursday 12 Mar 2026",
                      days_old=3, now=NOW)
    add(store, "Aisha goes to a pottery class on Tuesdays", days_old=0, now=NOW)
    first = query(store, "Aisha has parent-teacher conferences on Thursday", now=NOW)[0]
    assert first.id == conferences


def test_may_the_verb_is_not_the_month():
    assert time_window("what may she like to read", NOW) == (None, None, "")


def test_a_time_phrase_leaves_the_words_and_narrows_the_query(store):
    store.user_name = "Dana"
    old = add(store, "Dana read a paper about protein folding", days_old=30, now=NOW)
    new = add(store, "Dana read a paper about graph neural networks", days_old=1, now=NOW)
    trace = QueryTrace()
    ids = [p.id for p in query(store, "what paper did Dana read yesterday?", now=NOW, trace=trace)]
    assert ids == [new] and old not in ids
    assert trace.question.terms == ["paper", "read"]


def test_a_question_with_nothing_to_match_returns_the_newest_in_its_window(store):
    add(store, "Dana booked a train to Leeds", days_old=5, now=NOW)
    recent = add(store, "Dana fixed the kitchen tap", days_old=1, now=NOW)
    assert [p.id for p in query(store, "what did she do yesterday?", now=NOW)] == [recent]


# -- the embedding model -------------------------------------------------------------------------------


def test_the_llama_cpp_minilm_reproduces_sentence_transformers_similarities():
    # The figures printed by sentence-transformers for all-MiniLM-L6-v2 on these three sentences.
    v = embeddings.embed(["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."])
    sims = v @ v.T
    assert np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    assert sims[0, 1] == pytest.approx(0.6660, abs=2e-3)
    assert sims[0, 2] == pytest.approx(0.1046, abs=2e-3)
    assert sims[1, 2] == pytest.approx(0.1411, abs=2e-3)


def test_the_model_files_are_verified_by_sha256(tmp_path, monkeypatch):
    monkeypatch.setenv("GUM_CACHE_DIR", str(tmp_path / "cache"))
    folder = embeddings.model_dir()
    weights = folder / "model.safetensors"
    with open(weights, "r+b") as f:  # a corrupted copy in the cache is replaced from the package
        f.write(b"\0" * 16)
    embeddings.model_dir(verify=True)
    assert embeddings._sha256(weights) == embeddings.MINILM.files["model.safetensors"]


def test_a_question_embeds_as_in_a_batch_and_is_embedded_once():
    enc = embeddings.encoder()
    enc.forget_queries()
    text = "Which accounting software does the user use?"
    first = enc.encode_query(text)
    # Beside another text in llama.cpp's batch, its sums run in another order: the same vector to ~1e-5.
    beside = enc.encode([text, "a longer sentence beside it in the same batch"])[0]
    assert float(first @ beside) > 0.99999 and np.allclose(first, beside, atol=1e-4)
    assert enc.encode_query(text) is first  # remembered, not embedded again
    with pytest.raises(ValueError):
        first[0] = 1.0  # shared by every caller that asks the same: nobody may change it


def test_once_the_encoder_loads_numpy_runs_on_one_blas_thread():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    embeddings.encoder()
    if embeddings.os.environ.get("OPENBLAS_NUM_THREADS"):
        pytest.skip("the user's own setting is left alone")
    assert all(info["num_threads"] == 1 for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas")


# -- the dense index -----------------------------------------------------------------------------------


def test_a_proposition_is_embedded_when_written_and_stored_compactly(store):
    pid = add(store, "Dana uses QuickBooks for the bakery's books")
    row = store.db.execute("SELECT model, length(vector) FROM proposition_vectors WHERE proposition_id = ?",
                           [pid]).fetchone()
    assert row == (embeddings.MINILM.key, embeddings.MINILM.dim)


def test_int8_vectors_keep_the_cosine():
    v = embeddings.embed(["Dana uses QuickBooks", "which accounting software does she use?"])
    codes, scales = vectors.quantize(v)
    approx = codes.astype(np.float32) * scales[:, None]
    assert float(approx[0] @ v[1]) == pytest.approx(float(v[0] @ v[1]), abs=0.01)


def test_past_the_exact_limit_the_sign_bits_still_lead_to_the_nearest_vector():
    rng = np.random.default_rng(0)
    base = rng.standard_normal((30_000, 384)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    idx = vectors.Index()
    codes, scales = vectors.quantize(base)
    idx.data = (np.arange(1, 30_001), vectors.sign_words(codes), codes, scales)
    q = base[123] + 0.03 * rng.standard_normal(384).astype(np.float32)
    assert len(base) > vectors.EXACT_UP_TO
    assert idx.search(q / np.linalg.norm(q), 5)[0][0] == int(np.argmax(base @ q)) + 1
    assert idx.search(q, 3, among=[5, 124, 999])[0][0] == 124


def test_the_coarse_step_keeps_exactly_the_smallest_hamming_distances():
    rng = np.random.default_rng(1)
    dist = rng.integers(0, 385, 50_000).astype(np.uint16)
    got = vectors._nearest(dist, 512)
    assert len(got) == 512 == len(set(got.tolist()))
    assert dist[got].max() <= np.sort(dist)[511]


def test_a_question_finds_its_answer_by_meaning_among_unrelated_propositions(store):
    store.user_name = "Grace"
    answer = add(store, "Grace does her bookkeeping in QuickBooks", confidence=5)
    for text in ["Grace enjoys sea swimming on weekends", "Grace listens to jazz while working",
                 "Grace drives a second-hand Volkswagen Golf", "Grace booked a table at a tapas restaurant",
                 "Grace is learning Italian with Duolingo", "Grace has a cat named Biscuit"]:
        add(store, text, confidence=9)
    trace = QueryTrace()
    got = query(store, "Which accounting software does she use?", limit=3, trace=trace)
    assert got[0].id == answer  # no word in common: dense retrieval found it
    e = trace.explain[answer]
    assert e.bm25_rank is None and e.dense_rank == 1 and e.dense > 0.3


def test_an_unrelated_question_does_not_return_everything(store):
    add(store, "Dana uses QuickBooks for the bakery's books")
    add(store, "Dana is training for a half marathon")
    assert query(store, "what is the capital of Mongolia?") == []


def test_bm25_keeps_the_rarest_terms_within_its_budget(store, monkeypatch):
    from gum import search

    for i in range(300):
        add(store, f"Dana went on a walk number {i}" + (" with the dog" if i % 3 == 0 else ""))
    add(store, "Dana walks the dog to the lighthouse")
    monkeypatch.setattr(search, "POSTINGS_BUDGET", 120)
    monkeypatch.setattr(search, "COMMON_TERM_SHARE", 0.5)  # the budget binds here, not the common-term share
    total = store.size_estimate()
    # 'lighthouse' (1 row) and 'dog' (101) fit in 120 matching rows; 'walk' (301) would not.
    assert search.lexical_terms(store, ["walk", "dog", "lighthouse"], total) == ["dog", "lighthouse"]
    # A question whose every word is over the budget still matches on its rarest one.
    assert search.lexical_terms(store, ["walk"], total) == ["walk"]


def test_propositions_written_before_the_model_get_their_vector_at_a_query(store):
    pid = add(store, "Dana plays the cello in a community orchestra")
    store.db.execute("DELETE FROM proposition_vectors")
    store.db.conn.commit()
    query(store, "does she play an instrument?")
    assert store.db.execute("SELECT count(*) FROM proposition_vectors WHERE proposition_id = ?",
                            [pid]).fetchone()[0] == 1


# -- the haystack and question-recall ------------------------------------------------------------------


def test_the_haystack_is_varied_distinct_and_the_same_every_time():
    a, b = haystack.generate(3000), haystack.generate(3000)
    assert [d.text for d in a] == [d.text for d in b]
    assert len({d.text for d in a}) == 3000
    assert len({d.text.split()[1] for d in a}) > 40  # many verbs, not one template
    ages = [d.age_days for d in a]
    assert min(ages) < 3 and max(ages) > 300
    assert {d.confidence for d in a} >= {5, 7} and {d.decay for d in a} == set(range(1, 11))
    moments = [d.decay for d in a if d.kind == "moment"]
    traits = [d.decay for d in a if d.kind == "trait"]
    assert max(moments) < min(traits)  # a glance fades before a trait


def test_the_haystack_leaves_out_what_matches_a_fact_or_names_the_user():
    pool = haystack.generate(2000)
    chosen = haystack.for_user(pool, 1500, "Maya", lambda t: keyword_match(t, [["Spotify"]]))
    assert len(chosen) == 1500
    assert not any("Spotify" in d.named("Maya") or "Maya" in d.text for d in chosen)
    assert all(d.named("Maya").startswith("Maya ") for d in chosen)


def test_question_recall_counts_a_fact_whose_question_finds_a_matching_proposition(tmp_path):
    scenario = tmp_path / "s"
    scenario.mkdir()
    (scenario / "observations.jsonl").write_text('{"ts": "2026-03-02T09:00:00+00:00", "text": "x"}\n')
    (scenario / "scenario.json").write_text(json.dumps({"user_name": "Grace", "facts": [
        {"id": "t1", "text": "Grace uses QuickBooks", "question": "Which accounting software?", "true": True,
         "match": [["QuickBooks"]]},
        {"id": "t2", "text": "Grace owns a bakery", "true": True, "match": [["bakery"]]}]}))
    sc = load(scenario)
    claims = [Claim(id=1, text="Grace uses QuickBooks Online", confidence=5),
              Claim(id=2, text="Grace owns Sweet Crumb Bakery", confidence=5)]
    match_claims(claims, sc.facts)
    s, facts = score(sc.facts, claims, {"t1": [1], "t2": [2]}, 5, {"t1": [2, 1]})
    assert (s.questions, s.question_recalled, facts[0].question_rank) == (1, 1, 2)
    assert s.question_recall_at_k == 1.0 and facts[1].question == ""


def test_every_true_fact_of_our_scenarios_and_the_shared_ones_has_a_question():
    from pathlib import Path

    root = Path(__file__).resolve().parent / "eval"
    for f in sorted((root / "scenarios").glob("*/scenario.json")):
        facts = json.loads(f.read_text())["facts"]
        assert all(x.get("question") for x in facts if x["true"]), f
    shared = json.loads((root / "questions-shared.json").read_text())
    assert sum(len(v) for k, v in shared.items() if not k.startswith("_")) >= 40


def test_the_distractors_of_a_kept_database_are_removed_before_it_is_scored_again(store):
    store.user_name = "Grace"
    own = add(store, "Grace uses QuickBooks Online")
    now = utcnow()
    store.insert_distractors([("Grace collects stamps", "A distractor of gum eval --haystack.", 5, 9, now, now)])
    assert store.remove_distractors() == 1
    assert [p.id for p in store.propositions(limit=None)] == [own]
