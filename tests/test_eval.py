"""`gum eval`: the fact matcher, the scores, the scenario format, and one real end-to-end run."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import per_observation

from gum.cli import main
from gum.errors import InputError
from gum.scenario import Fact, expand, load
from gum.scoring import Claim, brier, keyword_match, match_claims, pooled, reliability, score

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE / "eval" / "scenarios"
OWN = sorted(p for p in SCENARIOS.iterdir() if (p / "scenario.json").exists())


def fact(id: str, true: bool, *groups: list[str]) -> Fact:
    return Fact(id=id, text=id, true=true, groups=tuple(tuple(g) for g in groups))


# -- the matcher -----------------------------------------------------------------------------------


def test_a_fact_matches_only_when_every_keyword_group_is_present():
    groups = [["thesis", "chapter"], ["graph neural", "GNN"]]
    assert keyword_match("Priya is writing a thesis chapter on GNN scaling", groups)
    assert not keyword_match("Priya is writing a thesis chapter", groups)
    assert not keyword_match("Priya reads about GNN papers", groups)


def test_any_alternative_within_a_group_is_enough_and_case_does_not_matter():
    assert keyword_match("Uses ZOTERO daily", [["Mendeley", "zotero"]])
    assert keyword_match("uses mendeley", [["Mendeley", "Zotero"]])


def test_alternatives_match_on_word_boundaries_only():
    assert not keyword_match("Arjun uses Google Docs", [["Go"]])
    assert not keyword_match("Tom is planning a party", [["art"]])
    assert not keyword_match("Room 2025 was booked", [["5"]])
    assert keyword_match("Completed 5 projects", [["5"]])
    assert keyword_match("Worked on ledger-api.", [["ledger-api"]])


def test_a_multi_word_alternative_matches_as_a_phrase_across_any_spacing():
    assert keyword_match("Sam mixes Northern\n  Lights in Ableton", [["northern lights"]])
    assert not keyword_match("Lights in the northern sky", [["northern lights"]])


def test_alternatives_with_symbols_at_their_edges_still_match():
    assert keyword_match("The trip cost $300 more", [["$300"]])
    assert keyword_match("Ratio 3:1 with bitters", [["3:1"]])
    assert keyword_match("writes C++ at work", [["C++"]])
    assert not keyword_match("writes C++11 at work", [["C++"]])


def test_an_empty_list_of_groups_matches_nothing():
    assert not keyword_match("anything at all", [])


# -- the scores ------------------------------------------------------------------------------------


def test_brier_is_the_mean_squared_gap_between_confidence_over_ten_and_truth():
    assert brier([(8, True), (3, False)]) == pytest.approx(((0.8 - 1) ** 2 + 0.3**2) / 2)
    assert brier([(10, True), (1, False)]) == pytest.approx((0 + 0.01) / 2)
    assert brier([]) is None


def test_reliability_groups_claims_by_confidence_and_counts_the_true_ones():
    rows = reliability([(6, True), (6, False), (9, True), (6, True)])
    assert [(r.confidence, r.n, r.true) for r in rows] == [(6, 3, 2), (9, 1, 1)]
    assert rows[0].observed == pytest.approx(2 / 3)
    assert rows[1].predicted == pytest.approx(0.9)


def test_recall_counts_a_true_fact_only_when_a_matching_claim_is_in_the_top_k():
    facts = [fact("t1", True, ["Zotero"]), fact("t2", True, ["Okafor"]), fact("t3", True, ["guitar"])]
    claims = [Claim(1, "uses Zotero", 6), Claim(2, "meets Dr. Okafor", 5), Claim(3, "reads email", 4)]
    match_claims(claims, facts)
    # t1's match is second, t2's match comes back sixth (outside k=5), t3 matches nothing.
    retrieved = {"t1": [3, 1], "t2": [3, 3, 3, 3, 3, 2], "t3": [3]}
    s, results = score(facts, claims, retrieved, k=5)
    assert (s.recalled, s.true_facts, s.matched_true) == (1, 3, 2)
    assert s.recall_at_k == pytest.approx(1 / 3)
    assert [r.rank for r in results] == [2, None, None]
    assert s.unmatched_claims == 1


def test_false_claim_rate_is_the_share_of_false_facts_some_claim_states():
    facts = [fact("f1", False, ["Portugal", "Lisbon"]), fact("f2", False, ["guitar"]), fact("t1", True, ["Zotero"])]
    claims = [Claim(1, "is planning a trip to Lisbon", 7), Claim(2, "uses Zotero", 6)]
    match_claims(claims, facts)
    s, _ = score(facts, claims, {"t1": [2]}, k=5)
    assert (s.false_claims, s.false_facts) == (1, 2)
    assert s.false_claim_rate == pytest.approx(0.5)


def test_brier_counts_a_claim_matching_a_true_and_a_false_fact_as_false_and_skips_unmatched_claims():
    facts = [fact("t1", True, ["Zotero"]), fact("f1", False, ["Lisbon"])]
    claims = [Claim(1, "uses Zotero in Lisbon", 8), Claim(2, "uses Zotero", 6), Claim(3, "likes tea", 9)]
    match_claims(claims, facts)
    s, _ = score(facts, claims, {"t1": [2]}, k=5)
    assert sorted(s.pairs) == [(6, True), (8, False)]
    assert s.brier == pytest.approx(((0.6 - 1) ** 2 + 0.8**2) / 2)


def test_pooled_scores_weigh_every_fact_and_claim_the_same():
    a, _ = score([fact("t1", True, ["x"])], [], {}, k=5)
    facts = [fact("t1", True, ["y"]), fact("t2", True, ["z"]), fact("f1", False, ["w"])]
    claims = [Claim(1, "y and w", 5), Claim(2, "z", 7)]
    match_claims(claims, facts)
    b, _ = score(facts, claims, {"t1": [1], "t2": [2]}, k=5)
    total = pooled([a, b])
    assert (total.recalled, total.true_facts) == (2, 3)
    assert (total.false_claims, total.false_facts) == (1, 1)
    assert sorted(total.pairs) == [(5, False), (7, True)]


def test_scenarios_without_false_facts_have_no_false_claim_rate():
    s, _ = score([fact("t1", True, ["x"])], [], {}, k=5)
    assert s.false_claim_rate is None and s.brier is None and s.recall_at_k == 0


# -- the scenario format ---------------------------------------------------------------------------


def write_scenario(folder: Path, facts: list[dict], lines: list[dict] | None = None, **extra) -> Path:
    folder.mkdir(parents=True)
    (folder / "scenario.json").write_text(json.dumps({"name": folder.name, "facts": facts, **extra}))
    if lines is not None:
        (folder / "observations.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    return folder


def test_a_scenario_is_read_with_defaults_for_what_the_format_makes_optional(tmp_path):
    folder = write_scenario(tmp_path / "s", [{"text": "uses Zotero", "true": True, "match": [["Zotero"]]}],
                            [{"ts": "2026-03-02T09:00:00+00:00", "observer": "screen", "text": "Zotero"}],
                            future_field="ignored")
    s = load(folder)
    assert (s.name, s.k, s.user_name) == ("s", 5, "")
    assert s.facts == [Fact(id="fact1", text="uses Zotero", true=True, groups=(("Zotero",),))]


@pytest.mark.parametrize("facts, message", [
    ([], "facts"),
    ([{"text": "x", "match": [["x"]]}], "true"),
    ([{"text": "x", "true": True, "match": [[]]}], "alternative"),
    ([{"text": "x", "true": True, "match": [["x"]], "id": "a"},
      {"text": "y", "true": False, "match": [["y"]], "id": "a"}], "unique"),
])
def test_a_malformed_scenario_is_refused_with_the_file_and_the_problem(tmp_path, facts, message):
    folder = write_scenario(tmp_path / "bad", facts, [])
    with pytest.raises(InputError, match=message) as err:
        load(folder)
    assert "scenario.json" in str(err.value)


def test_a_scenario_without_observations_or_screens_is_refused(tmp_path):
    folder = write_scenario(tmp_path / "empty", [{"text": "x", "true": True, "match": [["x"]]}])
    with pytest.raises(InputError, match="neither observations.jsonl nor screens"):
        load(folder)


def test_a_folder_of_scenarios_expands_to_each_of_them_in_name_order():
    assert expand([SCENARIOS]) == OWN
    with pytest.raises(InputError, match="not a scenario"):
        expand([HERE])


def test_gum_eval_reports_a_missing_scenario_as_one_clear_line_before_loading_any_model(tmp_path):
    result = CliRunner().invoke(main, ["eval", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert "no such folder" in result.output and "Traceback" not in result.output


# -- our own scenarios -----------------------------------------------------------------------------


def _render_module():
    spec = importlib.util.spec_from_file_location("render_screens", HERE / "eval" / "render_screens.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _scenario_text(folder: Path, screens: dict) -> str:
    text = []
    if (folder / "observations.jsonl").exists():
        for line in (folder / "observations.jsonl").read_text().splitlines():
            obs = json.loads(line)
            text += [obs.get("app", ""), obs.get("window", ""), obs["text"]]
    for s in screens.get(folder.name, []):
        text += [s["app"], s["window"], *s["lines"]]
    return "\n".join(text)


def test_our_scenarios_follow_the_brief_and_every_true_fact_is_in_the_evidence():
    screens = _render_module().SCREENS
    assert len(OWN) >= 6
    with_screens = 0
    for folder in OWN:
        s = load(folder)
        jsonl = folder / "observations.jsonl"
        n_obs = len(jsonl.read_text().splitlines()) if jsonl.exists() else 0
        n_screens = len(list((folder / "screens").glob("*.png"))) if (folder / "screens").exists() else 0
        with_screens += n_screens > 0
        assert 8 <= n_obs + n_screens <= 12, folder.name
        assert 3 <= len(s.true_facts) <= 5 and 2 <= len(s.false_facts) <= 4, folder.name
        evidence = _scenario_text(folder, screens)
        for f in s.facts:
            assert keyword_match(f.text, f.groups), f"{folder.name} {f.id}: its own text does not match"
            if f.true:
                assert keyword_match(evidence, f.groups), f"{folder.name} {f.id}: not in the observations"
    assert with_screens >= 2


def test_committed_screens_are_indexed_and_read_by_tesseract(tmp_path):
    from gum.ocr import ocr_file

    screens = _render_module().SCREENS
    for name, items in screens.items():
        index = [json.loads(x) for x in (SCENARIOS / name / "screens" / "index.jsonl").read_text().splitlines()]
        assert [e["file"] for e in index] == [s["file"] for s in items]
    text = ocr_file(SCENARIOS / "job-seeker-ux" / "screens" / "03-canva-email.png")
    assert "Canva" in text and "Thursday" in text and "portfolio" in text


# -- the pipeline ----------------------------------------------------------------------------------


def test_run_scenario_goes_through_ingest_engine_and_search_in_its_own_database(tmp_path, store):
    from gum.backends.scripted import ScriptedModel
    from gum.evaluate import run_scenario

    folder = write_scenario(
        tmp_path / "mini",
        [{"id": "t1", "text": "Priya manages references in Zotero", "true": True, "match": [["Zotero"]]},
         {"id": "f1", "text": "Priya is planning a holiday in Portugal", "true": False, "match": [["Lisbon"]]}],
        [{"ts": "2026-03-02T09:00:00+00:00", "observer": "screen", "app": "Zotero", "text": "My Library"},
         {"ts": "2026-03-02T09:05:00+00:00", "observer": "screen", "app": "Firefox", "text": "Flights to Lisbon"}],
        user_name="Priya",
    )

    def reply(call):
        if "relation" in call["schema"]["properties"]:
            return {"relation": "unrelated"}
        what, relation = ("Zotero", "uses") if "Zotero" in call["user"] else ("Lisbon", "goes to")
        return {"facts": [{"what": what, "relation": relation, "who": "user"}]}

    model = ScriptedModel(default=per_observation(reply))  # the engine reads short observations together
    run = run_scenario(load(folder), model)
    assert "Priya" in model.history[0]["system"]  # the scenario's user name reaches the engine
    assert run.stored == 2 and run.engine["observations"] == 2
    assert [c.matches for c in run.claims] == [["f1"], ["t1"]]
    s = run.scores
    assert (s.recalled, s.true_facts, s.false_claims, s.false_facts) == (1, 1, 1, 1)
    by_truth = {t: c for c, t in s.pairs}
    assert s.brier == pytest.approx(((by_truth[True] / 10 - 1) ** 2 + (by_truth[False] / 10) ** 2) / 2)
    assert store.counts()["observations"] == 0  # the user's own database was not touched


@pytest.mark.model
def test_gum_eval_json_runs_a_screenshot_scenario_end_to_end_with_the_embedded_model(embedded_model):
    result = CliRunner().invoke(
        main, ["eval", str(SCENARIOS / "job-seeker-ux"), "--limit-observations", "4", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    run = report["scenarios"][0]
    assert report["model"] == "embedded" and report["matcher"] == "keywords"
    assert run["observations_stored"] == 9 and run["engine"]["observations"] == 4
    assert run["prompt_tokens"] > 0 and run["completion_tokens"] > 0
    assert run["propositions"], "the model proposed nothing"
    facts = {f["id"]: f for f in json.loads((SCENARIOS / "job-seeker-ux" / "scenario.json").read_text())["facts"]}
    for p in run["propositions"]:  # the matches reported are the matcher's
        assert p["matches"] == [i for i, f in facts.items() if keyword_match(p["text"], f["match"])]
    assert 0 <= run["recall_at_k"] <= 1 and report["overall"]["true_facts"] == 4
    assert run["brier"] is None or 0 <= run["brier"] <= 1


def test_judge_mode_asks_the_model_once_per_claim_and_fact_and_reads_an_unclear_answer_as_no():
    from gum.backends.scripted import ScriptedModel
    from gum.evaluate import JudgeMatcher

    model = ScriptedModel([{"answer": "yes"}, "not json", {"answer": "no"}])
    judge = JudgeMatcher(model)
    zotero, guitar = fact("t1", True, ["unused"]), fact("f1", False, ["unused"])
    claims = [Claim(1, "keeps her papers in a reference manager", 6)]
    match_claims(claims, [zotero, guitar], judge)
    assert claims[0].matches == ["t1"]  # no keyword needed: the model said yes
    assert judge("keeps her papers in a reference manager", zotero) is True  # cached, no third call
    assert len(model.history) == 2 and judge.errors == 1
    assert "keeps her papers" in model.history[0]["user"] and judge.usage.prompt_tokens > 0


def test_the_text_report_has_a_line_per_scenario_an_overall_line_and_the_reliability_table(tmp_path):
    from gum.evaluate import ScenarioRun, format_details, format_table
    from gum.scenario import Scenario

    facts = [fact("t1", True, ["Zotero"]), fact("t2", True, ["Okafor"])]
    claims = [Claim(1, "uses Zotero", 6), Claim(2, "likes tea", 9)]
    match_claims(claims, facts)
    s, results = score(facts, claims, {"t1": [1]}, k=5)
    scenario = Scenario(path=tmp_path, name="mini", user_name="Priya", k=5, facts=facts)
    run = ScenarioRun(scenario=scenario, scores=s, facts=results, claims=claims, stored=3,
                      engine={"observations": 3, "prompt_tokens": 900, "completion_tokens": 100}, seconds=12.0)
    table = format_table([run], pooled([s]), {"observations": 3, "prompt_tokens": 900, "completion_tokens": 100,
                                              "seconds": 13.0})
    lines = table.splitlines()
    mini = next(x for x in lines if x.startswith("mini"))
    assert "1/2" in mini and "0.50" in mini and "900+100" in mini and "-" in mini  # no false facts: no rate
    assert any(x.startswith("overall") for x in lines)
    assert any("6/10" in x and "n=1" in x and "observed 1.00" in x for x in lines)
    details = format_details(run)
    assert "hit@1" in details and "MISSED" in details and "likes tea" in details


def test_a_scenario_json_path_stands_for_its_folder():
    assert expand([OWN[0] / "scenario.json"]) == [OWN[0]]


def test_junk_is_counted_by_class_and_the_brier_over_all_kept_counts_junk_as_untrue():
    facts = [Fact(id="t1", text="Grace uses QuickBooks", true=True, groups=[["QuickBooks"]]),
             Fact(id="f1", text="Grace is being audited", true=False, groups=[["audit"]])]
    claims = [Claim(1, "Grace uses QuickBooks Online", 9), Claim(2, "Grace is a payment app that allows users", 7),
              Claim(3, "Grace is preparing for an audit", 2)]
    from gum.scoring import check_form

    match_claims(claims, facts)
    check_form(claims, "Grace")
    s, _ = score(facts, claims, {"t1": [1]}, 5)
    assert (s.junk, s.junk_classes) == (1, {"user_as_thing": 1})
    # well-formed and true at 9, junk at 7, a false claim at 2
    assert s.brier_all == pytest.approx(((0.9 - 1) ** 2 + 0.7 ** 2 + 0.2 ** 2) / 3)


def test_a_judge_model_reads_every_kept_proposition_against_its_evidence(tmp_path):
    from gum.backends.scripted import ScriptedModel
    from gum.evaluate import run_scenario

    folder = write_scenario(
        tmp_path / "mini",
        [{"id": "t1", "text": "Priya manages references in Zotero", "true": True, "match": [["Zotero"]]}],
        [{"ts": "2026-03-02T09:00:00+00:00", "observer": "screen", "app": "Zotero", "text": "Zotero library"}],
        user_name="Priya",
    )
    model = ScriptedModel([{"facts": [{"what": "Zotero", "relation": "uses", "who": "user"}]}])
    judge = ScriptedModel([{"answer": "no"}])
    run = run_scenario(load(folder), model, judge_model=judge)
    [claim] = run.claims
    assert claim.judged_true is False and run.scores.all_pairs == [(claim.confidence, False)]
    assert "Zotero library" in judge.history[0]["user"]  # the evidence is shown to the judge
    assert run.as_dict()["propositions"][0]["judged_true"] is False
