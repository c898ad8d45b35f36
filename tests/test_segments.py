"""Activity segments: captures of one app and document become one activity; glances and switches; pure, no I/O."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from gum.segments import Capture, Rules, Segmenter, Span, heartbeat_merge, normalize_line, normalize_title

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def cap(at: float, window: str = "Inbox - Gmail - Google Chrome", lines=("hello",), app: str = "Chrome",
        keys: int = 0, observer: str = "screen", measured: bool = True) -> Capture:
    ts = T0 + timedelta(seconds=at)
    return Capture(observer=observer, app=app, window=window, ts=ts, ts_end=ts, lines=list(lines),
                   engagement={"keys": keys, "clicks": 0, "scrolls": 0}, measured=measured)


def test_a_title_is_reduced_to_the_document_it_names():
    assert normalize_title("Inbox (3) - Gmail - Google Chrome") == normalize_title("Inbox (12) - Gmail - Google Chrome")
    assert normalize_title("*notes.txt - Mousepad") == normalize_title("notes.txt - Mousepad") == "notes.txt"
    assert normalize_title("(2) Slack | general") == "slack | general"
    assert normalize_title("main.py \u25cf") == "main.py"
    assert normalize_title("Budget.xlsx") != normalize_title("Taxes.xlsx")


def test_a_line_compares_equal_across_captures_when_only_digits_spacing_or_case_changed():
    assert normalize_line("Updated 10:41  AM") == normalize_line("updated 11:02 am")
    assert normalize_line("Flight to Lisbon") != normalize_line("Flight to Porto")


def test_a_heartbeat_with_the_same_data_extends_the_span_within_the_pulse_and_starts_a_new_one_after():
    last = Span(T0, T0 + timedelta(seconds=30), ("Code", "agent.py"))
    beat = Span(T0 + timedelta(seconds=50), T0 + timedelta(seconds=50), ("Code", "agent.py"))
    merged = heartbeat_merge(last, beat, timedelta(seconds=60))
    assert merged == Span(T0, T0 + timedelta(seconds=50), ("Code", "agent.py"))
    assert last.end == T0 + timedelta(seconds=30), "pure: the input is not changed"
    assert heartbeat_merge(last, beat, timedelta(seconds=10)) is None
    assert heartbeat_merge(last, Span(beat.start, beat.end, ("Code", "other.py")), timedelta(seconds=60)) is None


def test_consecutive_captures_of_one_document_are_one_segment_holding_each_new_line_once():
    s = Segmenter()
    a = s.step(cap(0, lines=["Subject: Lisbon trip", "From: Ana"], keys=3))
    b = s.step(cap(30, window="Inbox (4) - Gmail - Google Chrome", lines=["Subject: Lisbon trip", "Flights on Friday"],
                   keys=5))
    assert a.current is b.current and not b.closed
    seg = b.current
    assert seg.lines == ["Subject: Lisbon trip", "From: Ana", "Flights on Friday"]
    assert (seg.keys, seg.captures, seg.dwell) == (8, 2, timedelta(seconds=30))
    assert seg.window == "Inbox (4) - Gmail - Google Chrome", "the latest raw title is kept"


def test_a_glance_at_another_window_does_not_split_the_activity_and_is_closed_as_a_glance():
    s = Segmenter()
    work = s.step(cap(0, window="thesis.tex - Mousepad", app="Mousepad", lines=["Chapter 4"], keys=20)).current
    glance = s.step(cap(40, window="Slack | general", app="Slack", lines=["lunch?"])).current
    back = s.step(cap(45, window="thesis.tex - Mousepad", app="Mousepad", lines=["Chapter 4", "Results"], keys=4))
    assert back.resumed and back.current is work
    assert back.closed == [glance] and glance.is_glance(s.rules)
    assert work.lines == ["Chapter 4", "Results"] and work.keys == 24


def test_a_switch_that_lasts_closes_the_activity_it_left():
    s = Segmenter(Rules(switch_lasts=timedelta(seconds=20)))
    work = s.step(cap(0, window="thesis.tex - Mousepad", app="Mousepad", keys=20)).current
    s.step(cap(60, window="Inbox - Gmail", lines=["Ana: flights?"]))
    assert work.closed == "", "held for a moment: the user may come straight back"
    closed = s.due(T0 + timedelta(seconds=85))
    assert closed == [work] and work.closed == "switch"
    assert work.end == T0 + timedelta(seconds=60), "it lasted until the switch"
    s2 = Segmenter()
    first = s2.step(cap(0, window="a.txt - Mousepad", app="Mousepad")).current
    step = s2.step(cap(5, window="Inbox - Gmail", keys=12))
    assert first.closed == "" and not step.closed
    step = s2.step(cap(8, window="Inbox - Gmail", keys=1))
    assert step.closed == [first], "typing in the new window makes the switch real at once"


def test_an_idle_gap_a_maximum_length_or_a_page_of_text_closes_a_segment():
    rules = Rules(idle_gap=timedelta(minutes=5), max_length=timedelta(minutes=10), max_chars=50)
    s = Segmenter(rules)
    before = s.step(cap(0)).current
    after = s.step(cap(600))
    assert after.closed == [before] and before.closed == "idle" and after.current is not before
    s = Segmenter(rules)
    long = s.step(cap(0, lines=["a1"])).current
    for t in range(120, 601, 120):
        step = s.step(cap(t, lines=[f"line {t}"]))
    assert long.closed == "length" and step.closed == [long]
    s = Segmenter(rules)
    step = s.step(cap(0, lines=["x" * 30, "y" * 30]))
    assert step.closed == [step.current] and step.current.closed == "text"


def test_only_a_measured_short_untouched_segment_is_a_glance():
    rules = Rules()
    s = Segmenter(rules)
    recorded = s.step(cap(0, measured=False)).current
    assert not recorded.is_glance(rules), "a recorded file does not say whether the user typed"
    live = Segmenter(rules).step(cap(0)).current
    assert live.is_glance(rules)
    live.keys = 1
    assert not live.is_glance(rules)


def test_recorded_captures_with_no_app_and_no_title_are_never_merged_into_one_activity():
    s = Segmenter()
    a = s.step(cap(0, app="", window="", lines=["Checkout"], measured=False)).current
    b = s.step(cap(1, app="", window="", lines=["Zotero"], measured=False)).current
    assert a is not b
    live = Segmenter()
    assert live.step(cap(0, app="", window="")).current is live.step(cap(5, app="", window="")).current


def test_each_monitor_has_its_own_segment():
    s = Segmenter()
    left = s.step(cap(0, observer="screen", window="a.txt - Mousepad", app="Mousepad")).current
    right = s.step(cap(1, observer="screen:2", window="Inbox - Gmail")).current
    again = s.step(cap(2, observer="screen", window="a.txt - Mousepad", app="Mousepad")).current
    assert again is left and right is not left


def test_a_loading_or_new_tab_title_is_transient_and_a_named_document_is_not():
    from gum.segments import transient

    assert transient("New Tab - Chromium") and transient("Untitled - Google Chrome") and transient("Loading…")
    assert not transient("Untitled 1 - Mousepad"), "a new document being written is an activity"
    assert not transient("Inbox (3) - Fernmail - Chromium") and not transient("")
