"""Ingest the same activity twice and nothing is stored twice (issue 19).

Recorded input has an identity (an image's content, a line's own id, or what a line says); a second ingest of
it stores nothing, crashes and concurrent runs included, and databases made before that are repaired by
`gum dedupe`.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import per_observation, render_text_image

from gum.backends.scripted import ScriptedModel
from gum.cli import main
from gum.engine import Engine
from gum.ingest import ingest
from gum.records import Observation, Proposition
from gum.repair import repair_duplicates
from gum.store import Store

SCENARIO = Path(__file__).resolve().parent / "eval" / "scenarios" / "bakery-owner-taxes" / "observations.jsonl"
LINES = 10  # in SCENARIO, every one distinct


def activities(folder: Path) -> Path:
    """A transcript where consecutive captures of one document form one activity segment (gum/segments.py),
    so a kill can land in the middle of an activity: 13 lines, 3 activities and 2 input summaries."""
    lines = []

    def capture(minute, app, window, text, observer="screen"):
        lines.append({"ts": f"2026-03-02T09:{minute:02}:00+00:00", "observer": observer, "app": app,
                      "window": window, "text": text})

    page = ["Chapter 4: Scaling Message Passing in Graph Neural Networks", "4.1 Motivation: over-smoothing",
            "4.2 Depth ablation from 2 to 64 layers", "4.3 Results on ogbn-arxiv and ogbn-products"]
    for n in range(4):
        capture(n, "Overleaf - Firefox", "chapter4_gnn_scaling.tex - Overleaf", "\n".join(page[: n + 1]))
    capture(5, "Overleaf - Firefox", "chapter4_gnn_scaling.tex - Overleaf",
            "typing burst: 640 keys over 5 min; 12 clicks", observer="input")
    mail = ["From: Dr. Adaeze Okafor", "Subject: Re: Chapter 4 draft",
            "Please send the revised chapter by Friday 5pm", "I will read it over the weekend"]
    for n in range(4):
        capture(10 + n, "Thunderbird", "Re: Chapter 4 draft - Inbox", "\n".join(mail[: n + 1]))
    refs = ["Collection: Thesis / Chapter 4", "Li, Han, Wu - Deeper Insights into Graph Convolutional Networks",
            "Oono, Suzuki - Graph Neural Networks Exponentially Lose Expressive Power"]
    for n in range(3):
        capture(20 + n, "Zotero", "My Library - Zotero", "\n".join(refs[: n + 1]))
    capture(24, "Zotero", "My Library - Zotero", "typing burst: 80 keys over 4 min; 30 clicks", observer="input")
    path = folder / "thesis.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


def reply(call: dict) -> dict:
    """A deterministic model: one claim naming the observation's app, so observations of one app corroborate."""
    head = call["user"].splitlines()[0]
    app = head.split('app="', 1)[1].split('"', 1)[0] if 'app="' in head else "a computer"
    return {"facts": [{"what": app, "relation": "uses", "who": "user"}]}


def run_engine(store: Store) -> None:
    Engine(store, ScriptedModel(default=per_observation(reply)), user_name="Grace").run()


def beliefs(store: Store) -> dict[str, tuple[int, int]]:
    """What gum believes, comparable across databases: text -> (confidence, evidence count)."""
    return {p.text: (p.confidence, p.evidence_count) for p in store.propositions(limit=None)}


def stored(store: Store) -> list[tuple]:
    """The observations, comparable across databases."""
    return sorted((o.ts, o.ts_end, o.observer, o.app, o.text) for o in store.observations(limit=10_000))


def clean_run(tmp_path: Path, monkeypatch, source: Path = SCENARIO) -> dict[str, tuple[int, int]]:
    """The beliefs of one uninterrupted ingest of `source` into a fresh database (its observations are kept
    in clean_run.stored)."""
    monkeypatch.setenv("GUM_DATA_DIR", str(tmp_path / "clean"))
    fresh = Store()
    ingest(fresh, [source])
    run_engine(fresh)
    result = beliefs(fresh)
    clean_run.stored = stored(fresh)
    fresh.close()
    monkeypatch.setenv("GUM_DATA_DIR", str(tmp_path / "data"))
    return result


# -- identity ------------------------------------------------------------------------------------------


def test_ingesting_the_same_file_again_stores_nothing_and_says_so(store):
    first = ingest(store, [SCENARIO])
    assert (first.stored, first.merged, first.existing) == (LINES, 0, 0)
    again = ingest(store, [SCENARIO])
    assert (again.stored, again.merged, again.existing) == (0, 0, LINES)
    assert store.counts()["observations"] == LINES
    # Input summaries are engagement evidence, never queued for the model.
    inputs = sum('"observer": "input"' in line for line in SCENARIO.read_text().splitlines())
    assert store.queue_counts()["pending"] == LINES - inputs


def test_the_cli_summary_counts_new_merged_and_already_stored(gum_dirs):
    runner = CliRunner()
    first = runner.invoke(main, ["ingest", "--no-process", str(SCENARIO)])
    assert first.exit_code == 0, first.output
    assert f"Stored {LINES} observations (0 merged into earlier ones, 0 already stored, 0 skipped)" in first.output
    again = runner.invoke(main, ["ingest", "--no-process", str(SCENARIO)])
    assert f"Stored 0 observations (0 merged into earlier ones, {LINES} already stored, 0 skipped)" in again.output
    forced = runner.invoke(main, ["ingest", "--no-process", "--force", str(SCENARIO)])
    # Stored again (a copy that repeats the observation just before it extends that one, as any repeat does).
    copies = Store().counts()["observations"] - LINES
    assert copies >= LINES - 2
    assert f"Stored {copies} observations" in forced.output and "0 already stored" in forced.output


def test_a_repeat_merged_into_an_earlier_observation_is_recognised_too(store, tmp_path):
    f = tmp_path / "obs.jsonl"
    same = {"observer": "screen", "app": "Zotero", "window": "Library", "text": "Chapter 4 references"}
    f.write_text(json.dumps({"ts": "2026-03-02T09:00:00Z", **same}) + "\n"
                 + json.dumps({"ts": "2026-03-02T09:01:00Z", **same}) + "\n")
    assert (ingest(store, [f]).stored, ingest(store, [f]).existing) == (1, 2)
    [obs] = store.observations()
    assert obs.meta["repeats"] == 2


def test_a_line_with_its_own_id_is_the_same_line_wherever_it_is_read_from(store, tmp_path):
    line = {"id": "evt-17", "ts": "2026-03-02T09:00:00Z", "observer": "screen", "text": "Thesis draft"}
    (tmp_path / "a.jsonl").write_text(json.dumps(line) + "\n")
    (tmp_path / "export").mkdir()
    # The same event exported again, with its text read differently: still the same event.
    (tmp_path / "export" / "b.jsonl").write_text(json.dumps({**line, "text": "Thesis draft v2"}) + "\n")
    assert ingest(store, [tmp_path / "a.jsonl"]).stored == 1
    assert ingest(store, [tmp_path / "export" / "b.jsonl"]).existing == 1
    # An unrelated export that also numbers from 1 is not mistaken for it.
    other = {**line, "ts": "2026-05-01T10:00:00Z"}
    (tmp_path / "c.jsonl").write_text(json.dumps(other) + "\n")
    assert ingest(store, [tmp_path / "c.jsonl"]).stored == 1


def test_reingesting_a_folder_of_screenshots_with_two_new_files_stores_two_and_reads_only_those(
    store, tmp_path, monkeypatch
):
    shots = tmp_path / "Screenshots"
    shots.mkdir()
    for n, words in enumerate(["Zotero library", "Overleaf chapter four", "Thunderbird inbox"]):
        render_text_image(shots / f"{n:03}.png", [words], size=(400, 120))
    assert ingest(store, [shots]).stored == 3
    render_text_image(shots / "003.png", ["Spotify Discover Weekly"], size=(400, 120))
    render_text_image(shots / "004.png", ["Calendar Friday 5pm deadline"], size=(400, 120))
    # A screenshot moved into the folder under a new name is the same screenshot.
    shutil.copy(shots / "000.png", shots / "000-copy.png")
    import gum.ocr

    read = []
    real_ocr = gum.ocr.ocr_file
    monkeypatch.setattr(gum.ocr, "ocr_file", lambda p: read.append(p.name) or real_ocr(p))
    report = ingest(store, [shots])
    assert (report.stored, report.existing) == (2, 4)
    assert sorted(read) == ["003.png", "004.png"]  # nothing already stored is OCR'd again
    assert store.counts()["observations"] == 5


def test_two_writers_racing_on_one_input_store_it_once(gum_dirs):
    Store().close()  # created and migrated before the race
    results = []
    barrier = threading.Barrier(4)

    def writer():
        s = Store()
        barrier.wait()
        for i in range(20):
            added = s.add_observation(Observation("screen", f"page {i}"), identity=f"line:{i}")
            results.append(added.existing)
        s.close()

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    s = Store()
    assert s.counts()["observations"] == 20 and s.queue_counts()["pending"] == 20
    assert results.count(False) == 20 and results.count(True) == 60


def test_two_ingests_taking_turns_on_one_activity_grow_one_segment(gum_dirs):
    from datetime import datetime, timedelta, timezone

    from gum.intake import Intake

    Store().close()
    a, b = Store(), Store()
    first, second = Intake(lambda: a), Intake(lambda: b)  # two processes, each with its own connection
    t = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
    lines = ["Chapter 4: Scaling", "4.1 Motivation", "4.2 Depth ablation", "4.3 Results"]

    def capture(n):
        return Observation("screen", lines[n], ts=t + timedelta(minutes=n), app="Overleaf",
                           window="chapter4.tex - Overleaf")

    # Each stores every other capture and finds the others already stored, as two ingests running at once do.
    for n in range(4):
        ahead, behind = (first, second) if n % 2 == 0 else (second, first)
        ahead.add(capture(n), identity=lambda o, n=n: f"line:{n}")
        behind.add(capture(n), identity=lambda o, n=n: f"line:{n}")
    first.close_all("end of input", recorded=True)
    second.close_all("end of input", recorded=True)
    [obs] = a.observations()
    assert obs.text.splitlines() == lines
    assert (first.stats()["existing"], second.stats()["existing"]) == (2, 2)


def test_what_the_user_deleted_is_not_brought_back_by_ingesting_it_again(store):
    ingest(store, [SCENARIO])
    run_engine(store)
    prop = next(p for p in store.propositions() if "QuickBooks" in p.text)
    cited = {o.id for o in store.evidence(prop.id)}
    # An observation that also backs another live proposition stays (Store.revoke): the rest go.
    shared = {o.id for p in store.propositions() if p.id != prop.id for o in store.evidence(p.id)}
    store.revoke(prop.id, with_evidence=True)
    assert cited - shared, "the revoked proposition had evidence of its own"
    assert store.counts()["observations"] == LINES - len(cited - shared)
    again = ingest(store, [SCENARIO])
    assert (again.stored, again.existing) == (0, LINES)


def test_evidence_is_a_set_attaching_an_observation_twice_counts_once(store):
    obs_id, _ = store.add_observation(Observation("screen", "Overleaf chapter 4", app="Overleaf"))
    pid = store.insert_proposition(Proposition(text="Priya writes her thesis in Overleaf"), [obs_id])
    engine = Engine(store, None)
    before = engine.refresh_confidence(pid)
    assert store.add_evidence(pid, [obs_id, obs_id]) == 0
    assert store.get(pid).evidence_count == 1
    assert engine.refresh_confidence(pid) == before


# -- the kill sequence ---------------------------------------------------------------------------------

WORKER = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, sys.argv[3])
    import gum.cli as cli
    import gum.intake
    from gum.backends.scripted import ScriptedModel
    from gum.engine import Engine
    from helpers import per_observation
    from test_ingest_identity import reply

    delay = float(sys.argv[2])

    def slow_reply(call):
        time.sleep(delay)
        return reply(call)

    cli._make_engine = lambda store, settings: Engine.from_settings(
        store, ScriptedModel(default=per_observation(slow_reply)), settings)
    # Storing takes a while too, so that kills land there as well as in the middle of the model's work.
    add = gum.intake.Intake.add
    def slow_add(self, obs, **kw):
        time.sleep(delay / 2)
        return add(self, obs, **kw)
    gum.intake.Intake.add = slow_add
    cli.main(["ingest", "--user", "Grace", *sys.argv[4:], sys.argv[1]])
    """
)


def _worker(delay: float, source: Path, *flags: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, str(source), str(delay), str(Path(__file__).parent), *flags],
        env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def _kill_after(proc: subprocess.Popen, seconds: float) -> None:
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)


def kill_sequence(seed: int, source: Path, *flags: str) -> list[float]:
    """Four runs of `gum ingest` killed at random points, two at once with one of them killed, one to the end."""
    rng = random.Random(seed)
    delay = 0.15  # per model call, half that per line stored; a whole run takes about 4 s
    kills = sorted(rng.uniform(0.5, 4.0) for _ in range(4))
    for at in kills:
        _kill_after(_worker(delay, source, *flags), at)
    pair = [_worker(delay, source, *flags), _worker(delay, source, *flags)]
    _kill_after(pair[0], rng.uniform(0.5, 4.0))
    assert pair[1].wait(timeout=180) == 0
    assert _worker(delay, source, *flags).wait(timeout=180) == 0
    return kills


@pytest.mark.parametrize("scenario", ["bakery", "activities"])
def test_ingest_killed_again_and_again_and_run_twice_at_once_ends_as_one_clean_run(
    tmp_path, monkeypatch, scenario
):
    source = SCENARIO if scenario == "bakery" else activities(tmp_path)
    expected = clean_run(tmp_path, monkeypatch, source)
    seed = int(os.environ.get("GUM_KILL_SEED") or random.randrange(10**6))
    Store().close()  # the user's database exists; the runs below are what crash
    kills = kill_sequence(seed, source)

    store = Store()
    why = f"seed {seed}, kills at {[round(k, 2) for k in kills]}"
    # Exactly the observations (activities) one clean run stores, once each, none left waiting.
    assert stored(store) == clean_run.stored, why
    assert len(set(stored(store))) == len(clean_run.stored), why
    assert store.queue_counts() == {"pending": 0, "failed": 0}, why
    assert beliefs(store) == expected, why


# -- repairing a database made before ------------------------------------------------------------------


def test_dedupe_merges_copies_keeping_evidence_and_feedback_and_confidence_returns_to_a_clean_runs(
    tmp_path, monkeypatch
):
    expected = clean_run(tmp_path, monkeypatch)
    store = Store()
    # A database made the way the old ingest made it: every run stored and processed the whole file again.
    ingest(store, [SCENARIO], force=True)
    run_engine(store)
    confirmed = next(p for p in store.propositions() if "QuickBooks" in p.text)
    store.confirm(confirmed.id)
    for _ in range(3):
        ingest(store, [SCENARIO], force=True)
        run_engine(store)
    ingest(store, [SCENARIO], force=True)  # the last run was killed before the model saw anything
    copies = store.counts()["observations"] - LINES
    assert copies >= 4 * (LINES - 2)  # a few copies extended the observation before them as heartbeats
    inflated = beliefs(store)
    # Each copy was new evidence: a crash made gum more sure of itself.
    assert all(inflated[text] > expected[text] for text in expected)

    report = repair_duplicates(store)
    assert report.removed == copies and report.groups <= LINES
    assert store.counts()["observations"] == LINES
    assert store.queue_counts() == {"pending": 0, "failed": 0}
    assert beliefs(store) == expected
    assert store.get(confirmed.id).feedback == "confirmed"
    assert [row["action"] for row in store.export()["feedback"]] == ["confirm"]
    # What was ingested before the repair is recognised from now on, and a second repair finds nothing.
    again = ingest(store, [SCENARIO])
    assert (again.stored, again.existing) == (0, LINES)
    assert repair_duplicates(store).removed == 0


def test_dedupe_repairs_a_database_made_by_the_kill_sequence_before_ingest_knew_what_it_had(
    tmp_path, monkeypatch
):
    expected = clean_run(tmp_path, monkeypatch)
    seed = int(os.environ.get("GUM_KILL_SEED") or random.randrange(10**6))
    Store().close()
    kills = kill_sequence(seed, SCENARIO, "--force")  # --force: every run stores everything again, as before
    store = Store()
    assert store.counts()["observations"] > LINES
    repair_duplicates(store)
    assert store.counts()["observations"] == LINES
    assert store.queue_counts() == {"pending": 0, "failed": 0}
    assert beliefs(store) == expected, f"seed {seed}, kills at {kills}"


def test_gum_dedupe_reports_what_it_merged(gum_dirs):
    store = Store()
    for _ in range(2):
        ingest(store, [SCENARIO], force=True)
    run_engine(store)
    runner = CliRunner()
    dry = runner.invoke(main, ["dedupe", "--dry-run"])
    dupes = Store().counts()["observations"] - LINES
    assert dupes >= LINES - 2
    assert f"{dupes} duplicate observations in {dupes} sets (nothing changed)." in dry.output
    done = runner.invoke(main, ["dedupe"])
    assert done.exit_code == 0, done.output
    assert f"Merged {dupes} duplicate observations in {dupes} sets" in done.output
    assert Store().counts()["observations"] == LINES
