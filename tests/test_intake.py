"""The intake: the one way in. Pause, exclusions, redaction; captures become activities; chrome and text the
model has read cost no call; what was open when the agent died is closed at the next start. Real SQLite."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from gum.intake import Intake, content_lines
from gum.privacy import Exclusions, Redactor
from gum.records import Observation, Proposition
from gum.store import Store

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def screen(at: float, text: str, window: str = "Quarterly report - Google Docs - Google Chrome",
           app: str = "Chrome", keys: int | None = 3) -> Observation:
    meta = {} if keys is None else {"engagement": {"keys": keys, "clicks": 1 if keys else 0, "scrolls": 0}}
    return Observation("screen", text, ts=T0 + timedelta(seconds=at), app=app, window=window, meta=meta)


def make(store: Store, **kw) -> Intake:
    return Intake(lambda: store, **kw)


def closed(store: Store) -> list[Observation]:
    return [o for o in store.observations(limit=100) if o.meta.get("segment", {}).get("state") == "closed"]


def test_captures_of_one_document_are_stored_as_one_growing_activity_and_queued_when_it_ends(store):
    intake = make(store)
    a = intake.add(screen(0, "Q3 revenue grew 12%\nCosts fell in March"))
    b = intake.add(screen(30, "Q3 revenue grew 12%\nHiring plan for Lisbon office"))
    assert a == b
    row = store.get_observation(a)
    assert row.text.splitlines() == ["Q3 revenue grew 12%", "Costs fell in March", "Hiring plan for Lisbon office"]
    assert row.meta["segment"]["state"] == "open" and store.queue_counts()["pending"] == 0
    assert row.meta["engagement"] == {"keys": 6, "clicks": 2, "scrolls": 0, "dwell_s": 30.0}
    intake.close_all()
    assert store.queue_counts()["pending"] == 1
    assert store.get_observation(a).meta["segment"]["kind"] == "activity"
    assert intake.stats()["captures"] == 2 and intake.stats()["segments"] == 1


def test_nothing_is_taken_in_while_paused_and_excluded_windows_are_dropped_for_every_source(store):
    paused = [True]
    intake = make(store, paused=lambda: paused[0], exclusions=Exclusions(["KeePassXC"]))
    assert intake.add(screen(0, "a private moment")) is None
    paused[0] = False
    assert intake.add(Observation("calendar", "Doctor at 10", app="KeePassXC", window="Passwords")) is None
    assert store.counts()["observations"] == 0
    assert intake.stats()["paused"] == 1 and intake.stats()["excluded"] == 1


def test_secrets_are_redacted_before_anything_is_stored_in_segments_and_plain_observations(store):
    intake = make(store, redactor=Redactor())
    sid = intake.add(screen(0, "Card number 4111 1111 1111 1111 for the hotel in Lisbon"))
    pid = intake.add(Observation("notification", "Your code: card 4111 1111 1111 1111", app="Bank"))
    intake.close_all()
    for oid in (sid, pid):
        text = store.get_observation(oid).text
        assert "4111" not in text and "[REDACTED:card]" in text
    assert store.get_observation(sid).meta["redactions"] == 1


def test_lines_an_app_shows_in_every_document_are_learned_and_kept_from_the_model(store):
    intake = make(store)
    chrome = ["Gmail Calendar Drive Docs Sheets", "Help  Privacy  Terms  Send feedback"]
    for n, (title, body) in enumerate([("Budget", "Rent 1200 per month"), ("Trip", "Flights to Lisbon on Friday"),
                                       ("Thesis", "Chapter 4 graph networks"), ("Garden", "Tomato seedlings"),
                                       ("Recipes", "Sourdough starter")]):
        intake.add(screen(n * 600, "\n".join([*chrome, body]), window=f"{title} - Google Docs - Google Chrome"))
    intake.close_all()
    last = store.observations(limit=1)[0]
    assert last.text == "Sourdough starter", "tab strips, menus and footers are not content"
    first = min(store.observations(limit=10), key=lambda o: o.ts)
    assert "Gmail Calendar" in first.text, "a line is chrome only once seen in several documents"
    assert intake.stats()["chrome_lines"] >= 2


def test_a_revisit_of_what_the_model_read_costs_no_call_and_counts_as_evidence_for_what_it_yielded(store):
    intake = make(store)
    page = "Senior Backend Engineer at Stripe\nRemote in Europe\nApply by March 20"
    first = intake.add(screen(0, page, window="Stripe careers - Google Chrome", keys=30))
    intake.close_all()
    assert store.queue_counts()["pending"] == 1
    pid = store.insert_proposition(Proposition(text="Marcus is applying for a backend job at Stripe"), [first])
    store.dequeue([first])
    revisit = intake.add(screen(3600, page, window="Stripe careers - Google Chrome", keys=2))
    intake.close_all()
    assert store.queue_counts()["pending"] == 0, "read before: no model call"
    assert store.get_observation(revisit).meta["segment"]["kind"] == "known"
    assert {o.id for o in store.evidence(pid)} == {first, revisit}


def test_a_partly_new_page_is_read_whole_and_stays_linked_to_the_earlier_reading(store):
    intake = make(store)
    first = intake.add(screen(0, "Senior Backend Engineer at Stripe\nRemote in Europe", window="Stripe careers"))
    intake.close_all()
    again = intake.add(screen(3600, "Senior Backend Engineer at Stripe\nRemote in Europe\n"
                                     "Salary range 120k to 150k EUR plus equity", window="Stripe careers"))
    intake.close_all()
    row = store.get_observation(again)
    assert row.text.endswith("Salary range 120k to 150k EUR plus equity"), "the new line, in its context"
    assert row.text.startswith("Senior Backend Engineer at Stripe")
    assert row.meta["segment"]["known_lines"] == 2 and store.queue_counts()["pending"] == 2
    pid = store.insert_proposition(Proposition(text="Marcus looks at a backend job at Stripe"), [first])
    assert store.attach_repeats(first) == [pid]


def test_a_glance_is_kept_for_the_timeline_but_never_queued(store):
    intake = make(store)
    intake.add(screen(0, "Thesis chapter 4\nResults table", window="thesis.tex - Mousepad", app="Mousepad", keys=40))
    glance = intake.add(screen(20, "Ana: lunch at 1?", window="Slack | general", app="Slack", keys=0))
    intake.add(screen(24, "Thesis chapter 4\nDiscussion", window="thesis.tex - Mousepad", app="Mousepad", keys=0))
    intake.add(screen(40, "Thesis chapter 4\nDiscussion\nLimitations", window="thesis.tex - Mousepad",
                      app="Mousepad", keys=12))
    intake.close_all()
    kinds = {o.id: o.meta["segment"]["kind"] for o in closed(store)}
    assert kinds[glance] == "glance"
    assert sorted(kinds.values()) == ["activity", "glance"], "the work around the glance is one activity"
    assert store.queue_counts()["pending"] == 1


def test_activities_left_open_by_a_killed_agent_are_closed_and_queued_at_the_next_start(store):
    intake = make(store)
    oid = intake.add(screen(0, "Invoice 2026-031 for Hartmann Medizintechnik"))
    del intake  # the process died: nothing closed it
    assert store.queue_counts()["pending"] == 0
    restarted = make(store)
    assert restarted.recover() == 1
    row = store.get_observation(oid)
    assert row.meta["segment"]["state"] == "closed" and row.meta["segment"]["closed"] == "restart"
    assert store.queue_counts()["pending"] == 1


def test_the_old_per_capture_intake_queues_every_changed_capture(store):
    intake = make(store, mode="captures")
    intake.add(screen(0, "Q3 revenue grew 12%"))
    intake.add(screen(30, "Q3 revenue grew 12%\nCosts fell"))
    assert store.queue_counts()["pending"] == 2


def test_ocr_garbage_lines_are_not_content():
    lines = content_lines("x | © ~~ = |\nG x M x + o x a b\nSenior Backend Engineer at Stripe\nfn main() {\n--")
    assert lines == ["Senior Backend Engineer at Stripe", "fn main() {"]


def test_the_engine_gives_a_later_repeat_the_evidence_its_source_yields(store):
    from gum.backends.scripted import ScriptedModel
    from gum.engine import Engine

    intake = make(store)
    page = "Senior Backend Engineer at Stripe\nRemote in Europe\nApply by March 20"
    first = intake.add(screen(0, page, window="Stripe careers", keys=30))
    intake.close_all()
    repeat = intake.add(screen(3600, page, window="Stripe careers", keys=2))
    intake.close_all()
    assert store.queue_counts()["pending"] == 1, "the repeat waits for nothing"
    model = ScriptedModel([{"facts": [{"what": "Stripe", "relation": "applied to", "who": "user"}]}])
    Engine(store, model, user_name="Marcus").run()
    (prop,) = store.propositions()
    assert {o.id for o in store.evidence(prop.id)} == {first, repeat}
    assert len(model.history) == 1


def test_a_tab_that_is_still_loading_neither_starts_nor_splits_an_activity(store):
    intake = make(store)
    a = intake.add(screen(0, "Redis docs: SET with EX", window="SET | Redis - Chromium", keys=0))
    assert intake.add(screen(5, "", window="New Tab - Chromium", keys=0)) is None
    b = intake.add(screen(9, "Redis docs: SET with EX\nEXPIRE and TTL", window="SET | Redis - Chromium", keys=0))
    assert a == b and intake.stats()["transient"] == 1


def test_the_browsers_own_bars_are_not_read():
    from gum.observers.screen import Region, below_toolbar, is_browser

    assert is_browser("Chromium") and is_browser("firefox-esr") and not is_browser("Mousepad")
    window = Region(100, 50, 1200, 900)
    assert below_toolbar(Region(100, 50, 1200, 900), window) == Region(100, 138, 1200, 812)
    assert below_toolbar(Region(100, 400, 1200, 40), window) == Region(100, 400, 1200, 40)
