"""The Timeline tab for real on X: Xvfb, a real system tray (trayer), `gum ui --timeline` with its own agent over
a seeded day. Saves tests/artifacts/timeline_tab.png, so a person can look at what the user would see."""

from __future__ import annotations

import signal
from datetime import datetime, timezone
from pathlib import Path

import pytest
from helpers import have, wait_for
from timeline_seed import seed_day
from ui_helpers import tray_and_ui

pytestmark = [
    pytest.mark.x11,
    pytest.mark.skipif(not all(have(b) for b in ("Xvfb", "trayer", "xdotool")), reason="needs Xvfb, trayer, xdotool"),
]


def test_the_timeline_tab_on_a_real_x_display_draws_the_seeded_day(gum_dirs, tmp_path, artifacts):
    from gum.store import Store
    from gum.timeline import local_day

    store = Store()
    try:
        day = seed_day(store, local_day(datetime.now(timezone.utc)))
    finally:
        store.close()
    with tray_and_ui(tmp_path, "--timeline") as (display, ui, log):
        wait_for(lambda: f"timeline: {day.day} shown, 6 activities in 3 lanes" in log(), 60,
                 f"the Timeline tab to draw the day; log:\n{log()[-3000:]}")
        wid = display.xdotool("search", "--sync", "--onlyvisible", "--name", "Memory$").split()[0]
        assert wid
        # A real click on the first Stripe careers block (no window manager: the window sits at 0,0) selects it.
        display.xdotool("mousemove", "280", "113", "click", "1")
        wait_for(lambda: f"timeline: activity #{day.segments[0]} selected" in log(), 20, "the clicked block")
        import mss
        import mss.tools

        grab = getattr(mss, "MSS", None) or mss.mss
        with grab(display=display.name) as sct:
            before = sct.grab(sct.monitors[1])
        shot_path = Path(artifacts) / "timeline_tab.png"
        mss.tools.to_png(before.rgb, before.size, output=str(shot_path))
        assert shot_path.stat().st_size > 10_000
        # The firefox lane's colour is on screen where its first block is drawn.
        colours = {before.pixel(x, y) for x in range(150, 1280, 4) for y in range(60, 200, 4)}
        assert len(colours) > 8, "the lanes are drawn in colour"

        ui.send_signal(signal.SIGTERM)
        assert ui.wait(timeout=30) == 0
