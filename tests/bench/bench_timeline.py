"""Timeline benchmark: a day of 2,000 activity segments. How long building the day takes (the Store's reads and
gum.timeline.build), answering it as the API does (JSON), and drawing the Timeline tab offscreen: one full paint
of the whole day, then scrolling and zooming repaints. The goal: under 200 ms to render.

    python tests/bench/bench_timeline.py [--segments 2000] [--runs 5]

Runs in a temporary data dir with QT_QPA_PLATFORM=offscreen; no agent, no model.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

APPS = ["firefox", "chromium", "mousepad", "xterm", "code", "slack", "thunderbird", "evince", "libreoffice", "zoom"]


def ms(values: list[float]) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
    return f"median {statistics.median(values) * 1000:7.1f} ms  p95 {p95 * 1000:7.1f} ms  max {values[-1] * 1000:7.1f} ms"


def seed(store, day, n: int) -> None:
    """n segments from 07:00 over ~14 hours, input minutes for most of them, propositions citing some."""
    from timeline_seed import input_minute, segment

    from gum.records import Proposition
    from gum.timeline import day_bounds

    rng = random.Random(7)
    start, _ = day_bounds(day)
    t = start + timedelta(hours=7)
    ids = []
    with store.transaction():
        for i in range(n):
            # ~20 s on average: 2,000 activities fit in a (busy) day from 07:00.
            length = timedelta(seconds=rng.choice([6, 8, 12, 15, 20, 30, 45]))
            app = rng.choice(APPS)
            keys = rng.choice([0, 0, 5, 40, 200])
            ids.append(segment(store, app, f"document {i % 150} - {app}", t, t + length, keys=keys,
                               clicks=rng.randint(0, 20), scrolls=rng.randint(0, 30), text=f"text of {i} " * 40,
                                                  kind="glance" if length.total_seconds() < 10 else "activity"))
            t += length + timedelta(seconds=rng.choice([1, 2, 3, 5]))
        minute = start + timedelta(hours=7)
        while minute < t:
            if rng.random() < 0.6:
                input_minute(store, minute)
            minute += timedelta(minutes=1)
        store.note_unrecorded("paused", start + timedelta(hours=12), start + timedelta(hours=13))
    for j in range(300):
        store.insert_proposition(Proposition(text=f"Proposition {j} about the user", confidence=6, decay=5),
                                 rng.sample(ids, rng.randint(1, 3)))
    print(f"seeded {n} segments from {start + timedelta(hours=7):%H:%M} to {t:%H:%M} UTC, 300 propositions")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--segments", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="gum-bench-timeline-"))
    os.environ.update({"GUM_DATA_DIR": str(root / "data"), "GUM_CONFIG_DIR": str(root / "config"),
                       "GUM_KEY_STORE": "file", "GUM_KEY_FILE": str(root / "key"), "QT_QPA_PLATFORM": "offscreen"})
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

    from gum.api.models import Timeline
    from gum.store import Store
    from gum.timeline import load, local_day

    store = Store()
    day = local_day(datetime.now(timezone.utc))
    seed(store, day, args.segments)

    builds, answers = [], []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        d = load(store, day)
        t1 = time.perf_counter()
        body = Timeline.of(d, titles=True).model_dump_json()
        t2 = time.perf_counter()
        builds.append(t1 - t0)
        answers.append(t2 - t1)
    print(f"blocks in the day: {sum(len(lane.blocks) for lane in d.lanes)} in {len(d.lanes)} lanes; "
          f"JSON {len(body) / 1024:.0f} KiB")
    print(f"build the day (Store reads + timeline.build): {ms(builds)}")
    print(f"answer it as GET /v1/timeline does (pydantic JSON): {ms(answers)}")

    import json

    from gum.ui.views.timeline_view import DayView, TimelineView
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QImage
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    raw = json.loads(body)
    parses = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        DayView.of(raw)
        parses.append(time.perf_counter() - t0)
    print(f"parse the answer for drawing (DayView.of): {ms(parses)}")

    class NoApi:
        def call(self, *a, **k):
            raise RuntimeError("not used")

    view = TimelineView(NoApi())
    view.resize(1220, 720)
    view.show()
    app.processEvents()
    shows, paints, tab_paints = [], [], []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        view.show_day(raw)
        app.processEvents()
        shows.append(time.perf_counter() - t0)
        view.canvas.first_s, view.canvas.visible_s = 0.0, view.view.span_s  # the whole day: every block in view
        img = QImage(view.canvas.size(), QImage.Format_ARGB32)
        t0 = time.perf_counter()
        view.canvas.render(img, QPoint(0, 0))
        paints.append(time.perf_counter() - t0)
        tab = QImage(view.size(), QImage.Format_ARGB32)
        t0 = time.perf_counter()
        view.render(tab, QPoint(0, 0))
        tab_paints.append(time.perf_counter() - t0)
    print(f"show a loaded day in the tab (DayView, lanes, learned, bars, layout): {ms(shows)}")
    print(f"paint the canvas, whole day in view: {ms(paints)}")
    print(f"paint the whole Timeline tab: {ms(tab_paints)}  (goal < 200 ms)")

    c = view.canvas
    c.visible_s = 3600.0
    frames = []
    steps = 200
    for i in range(steps):
        c.scroll_to(c.view.span_s * i / steps)
        t0 = time.perf_counter()
        c.repaint()
        frames.append(time.perf_counter() - t0)
    print(f"scroll an hour-wide view across the day, {steps} repaints: {ms(frames)}")
    zooms = []
    for i in range(60):
        c.zoom(0.8 if i < 30 else 1.25)
        t0 = time.perf_counter()
        c.repaint()
        zooms.append(time.perf_counter() - t0)
    print(f"zoom in and out, 60 repaints: {ms(zooms)}")
    hits = []
    for i in range(500):
        t0 = time.perf_counter()
        c.block_at(200 + i % 900, 40 + (i % 8) * 30)
        hits.append(time.perf_counter() - t0)
    print(f"hover hit test: {ms(hits)}")
    store.close()


if __name__ == "__main__":
    main()
