"""The Timeline tab of the Memory window, on real widgets (offscreen), against a real agent (`gum start`) on
loopback over a seeded day: segments across apps, an idle gap, a paused hour, an excluded window."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from timeline_seed import EXCLUDED, PAUSED, seed_day
from ui_helpers import RunningAgent

from gum.store import Store
from gum.timeline import local_day

WAIT = 15_000


@pytest.fixture
def day(evening_here, gum_dirs):
    store = Store()
    try:
        return seed_day(store, local_day(datetime.now(timezone.utc)))
    finally:
        store.close()


@pytest.fixture
def window(day, gum_dirs, tmp_path, qtbot):
    from gum.ui.api import Api
    from gum.ui.views.memory_window import MemoryWindow

    agent = RunningAgent(gum_dirs, tmp_path / "agent.log")
    try:
        qtbot.waitUntil(agent.healthy, timeout=WAIT)
        api = Api(agent.url, agent.token)
        w = MemoryWindow(api)
        w.resize(1280, 800)
        qtbot.addWidget(w)
        with qtbot.waitSignal(w.loaded, timeout=WAIT):
            w.show()
        with qtbot.waitSignal(w.timeline.loaded, timeout=WAIT):
            w.show_timeline()
        yield w
        qtbot.waitUntil(lambda: api.in_flight() == 0, timeout=WAIT)
    finally:
        agent.stop()


def offset(day, hhmm: str) -> float:
    return (day.at(hhmm) - day.start).total_seconds()


def test_the_tab_draws_a_lane_per_app_with_the_days_blocks_gaps_and_totals(window, day):
    view = window.timeline.view
    assert [lane["label"] for lane in view.lanes] == ["firefox", "mousepad", "xterm"]
    firefox = view.blocks[0]
    assert [(b.s, b.e) for b in firefox] == [(offset(day, "09:00"), offset(day, "09:40")),
                                             (offset(day, "10:30"), offset(day, "10:50")),
                                             (offset(day, "13:00"), offset(day, "13:20"))]
    assert [(k, a, b) for a, b, k in view.gaps] == [
        ("idle", offset(day, "10:50"), offset(day, "11:30")),
        ("paused", offset(day, PAUSED[0]), offset(day, PAUSED[1])),
        ("excluded", offset(day, EXCLUDED[0]), offset(day, EXCLUDED[1]))]
    bars = window.timeline.bars.rows
    assert [(r["label"], r["total_s"], r["active_s"]) for r in bars] == [
        ("firefox", 4800, 2100), ("mousepad", 4500, 4500), ("xterm", 1800, 1800)]
    mousepad = window.timeline.bars.row_at(26 + 22 * 1 + 5)
    assert [(a["title"], a["total_s"]) for a in mousepad["activities"]] == [
        ("cover-letter.txt - Mousepad", 3000), ("notes.txt - Mousepad", 1500)], "per activity, in the bar's tip"
    assert "3 h 05" in window.timeline.summary.text() and "1 h 15 not recorded" in window.timeline.summary.text()
    # The canvas shows the morning to the afternoon, and a block is where its time is.
    c = window.timeline.canvas
    assert c.first_s <= offset(day, "09:00") and c.first_s + c.visible_s >= offset(day, "14:00")
    x = c.x_of(offset(day, "09:20"))
    hit = c.block_at(x, c.lane_top(0) + 10)
    assert hit is not None and hit.d["id"] == day.segments[0]
    assert c.block_at(c.x_of(offset(day, "11:00")), c.lane_top(0) + 10) is None, "the idle gap is a gap"
    assert c.block_at(c.x_of(offset(day, "12:30")), c.lane_top(1) + 10) is None, "the paused hour holds nothing"


def test_hovering_a_block_tells_what_it_was_and_what_it_is_evidence_for(window, day):
    from gum.ui.views.timeline_view import describe

    view = window.timeline.view
    text = describe(view, view.by_id[day.segments[0]])
    assert "Stripe careers - Mozilla Firefox" in text and "09:00–09:40" in text
    assert "120 keys, 30 clicks, 40 scrolls" in text and "dwell 40 min" in text and "active 30 min" in text
    assert "Priya is applying for a backend engineer job at Stripe" in text


def test_clicking_a_segments_proposition_opens_it_in_the_memory_tab_with_that_evidence_highlighted(
        window, day, qtbot):
    from PySide6.QtCore import QPoint, Qt

    tl = window.timeline
    c = tl.canvas
    qtbot.mouseClick(c, Qt.LeftButton, pos=QPoint(int(c.x_of(offset(day, "13:10"))), int(c.lane_top(0) + 12)))
    assert c.selected is not None and c.selected.d["id"] == day.segments[4]
    assert "Stripe careers" in tl.detail.text()
    item = tl.evidence_for.item(0)
    assert item.text().startswith(f"#{day.props['job']} Priya is applying")
    with qtbot.waitSignal(window.detail_loaded, timeout=WAIT, check_params_cb=lambda i: i == day.props["job"]):
        tl.evidence_for.itemClicked.emit(item)
    assert window.tabs.currentIndex() == 0
    assert window.selected()["id"] == day.props["job"]
    marked = window.detail.highlighted()
    assert marked is not None and marked.text(0).endswith("13:00") and "Stripe careers" in marked.text(2)


def test_what_gum_learned_is_grouped_by_the_segment_it_came_from_and_opens_the_current_version(window, day, qtbot):
    tree = window.timeline.learned
    heads = [tree.topLevelItem(i).text(0) for i in range(tree.topLevelItemCount())]
    assert heads[0].endswith("firefox — Stripe careers - Mozilla Firefox") and "09:00" in heads[0]
    letter = next(tree.topLevelItem(i) for i in range(tree.topLevelItemCount()) if "cover-letter" in heads[i])
    rows = [(letter.child(j).text(1), letter.child(j).text(0)) for j in range(letter.childCount())]
    assert ("created", f"#{day.props['letter_v1']} Priya writes a cover letter") in rows
    assert ("revised", f"#{day.props['letter']} Priya writes a cover letter for Stripe") in rows
    everything = " ".join(tree.topLevelItem(i).child(j).text(0) for i in range(tree.topLevelItemCount())
                          for j in range(tree.topLevelItem(i).childCount()))
    assert "secret side project" not in everything, "revoked: never shown again"
    first = next(letter.child(j) for j in range(letter.childCount()) if letter.child(j).text(1) == "created")
    with qtbot.waitSignal(window.detail_loaded, timeout=WAIT, check_params_cb=lambda i: i == day.props["letter"]):
        tree.itemClicked.emit(first, 0)  # v1 is superseded: its active version opens


def test_previous_next_and_today_move_between_days_and_the_week_chart_sums_seven_days(window, day, qtbot):
    tl = window.timeline
    assert not tl.next_button.isEnabled(), "no day after today"
    with qtbot.waitSignal(tl.loaded, timeout=WAIT):
        tl.prev_button.click()
    assert tl.day() == day.day - timedelta(days=1)
    assert tl.view.lanes == [] and tl.bars.rows == [] and tl.next_button.isEnabled()
    tl.period.setCurrentIndex(1)
    assert tl.bars.rows == [], "the 7 days to yesterday hold nothing"
    with qtbot.waitSignal(tl.loaded, timeout=WAIT):
        tl.today_button.click()
    assert tl.day() == date.today() and len(tl.view.lanes) == 3
    assert [r["label"] for r in tl.bars.rows] == ["firefox", "mousepad", "xterm"], "still the week's chart"
    assert tl.view.raw["week_start"] == (day.day - timedelta(days=6)).isoformat()


def test_zooming_and_scrolling_keep_the_view_inside_the_day(window, day):
    c = window.timeline.canvas
    c.zoom(0.1)
    assert c.visible_s >= 600
    c.scroll_to(-5000)
    assert c.first_s == 0
    c.scroll_to(10**9)
    assert c.first_s + c.visible_s == pytest.approx(c.view.span_s)
    assert window.timeline.scroll.value() == int(c.first_s)


def test_painting_thousands_of_shapes_does_not_use_up_the_references_to_none(qtbot):
    # PySide6 6.12 on CPython 3.11 takes a reference from None per void call (ui/qtfix.py): without the
    # guard, this many paints end the process with "Fatal Python error: none_dealloc".
    import sys

    from gum.ui.qtfix import keep_none_alive
    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QImage, QPainter

    keep_none_alive()
    img = QImage(40, 30, QImage.Format_ARGB32)
    p = QPainter(img)
    for _ in range(50_000):
        p.drawRect(QRectF(0, 0, 3, 3))
    p.end()
    assert sys.getrefcount(None) > 1000
