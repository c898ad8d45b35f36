"""The Timeline tab for real on X: Xvfb, a real system tray (trayer), `gum ui --timeline` with its own agent over
a seeded day. Saves tests/artifacts/timeline_tab.png, so a person can look at what the user would see."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from helpers import free_port, have, wait_for
from timeline_seed import seed_day

pytestmark = [
    pytest.mark.x11,
    pytest.mark.skipif(not all(have(b) for b in ("Xvfb", "trayer", "xdotool")), reason="needs Xvfb, trayer, xdotool"),
]


def test_the_timeline_tab_on_a_real_x_display_draws_the_seeded_day(gum_dirs, tmp_path, artifacts):
    from xdisplay import XDisplay

    from gum.store import Store
    from gum.timeline import local_day

    store = Store()
    try:
        day = seed_day(store, local_day(datetime.now(timezone.utc)))
    finally:
        store.close()
    display = XDisplay("1280x800x24")
    tray = ui = None
    log_path = tmp_path / "ui.log"
    try:
        env = {**display.env, "QT_QPA_PLATFORM": "xcb", "GUM_OBSERVERS": "none", "GUM_API_PORT": str(free_port()),
               "GUM_CACHE_DIR": str(tmp_path / "cache"), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
        env.pop("GUM_TRAY_TOKEN", None)
        tray = subprocess.Popen(["trayer", "--edge", "top", "--align", "right", "--widthtype", "request",
                                 "--height", "32", "--transparent", "false", "--tint", "0x303030",
                                 "--SetDockType", "true"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        display.xdotool("search", "--sync", "--classname", "trayer")
        with open(log_path, "wb") as out:
            ui = subprocess.Popen([sys.executable, "-m", "gum.cli", "ui", "--timeline"], env=env, stdout=out,
                                  stderr=subprocess.STDOUT)
        log = lambda: log_path.read_text(errors="replace")
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
    finally:
        for p in (ui, tray):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
        display.stop()
        os.environ.pop("GUM_TRAY_TOKEN", None)
