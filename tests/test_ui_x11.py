"""The tray app for real on X: Xvfb, a real system tray (trayer), `gum ui` with its own agent.

Saves tests/artifacts/tray_memory_window.png, so a person can look at what the user would see.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from helpers import have, wait_for
from ui_helpers import seed, tray_and_ui

pytestmark = [
    pytest.mark.x11,
    pytest.mark.skipif(not all(have(b) for b in ("Xvfb", "trayer", "xdotool")), reason="needs Xvfb, trayer, xdotool"),
]
GREEN = (46, 160, 67)  # the "observing" icon


def near(pixel, colour, tolerance=40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour))


def test_tray_app_on_a_real_x_display_shows_its_icon_and_the_memory_window(gum_dirs, tmp_path, artifacts):
    seed(gum_dirs)
    with tray_and_ui(tmp_path, "--memory", observers="window") as (display, ui, log):
        wait_for(lambda: "memory window: 5 propositions listed" in log() and "state: observing" in log(),
                 60, f"the Memory window to list the propositions; log:\n{log()[-3000:]}")
        assert "tray icon shown (system tray available)" in log()
        wid = display.xdotool("search", "--sync", "--onlyvisible", "--name", "Memory$").split()[0]
        assert wid
        # The first proposition is selected and its detail (evidence, history) loads asynchronously.
        wait_for(lambda: "memory window: detail of #" in log(), 20, "the detail pane to fill")
        # A real click on the second row (no window manager: the window sits at 0,0) shows the Rust
        # proposition, whose evidence includes a kept screenshot.
        display.xdotool("mousemove", "200", "135", "click", "1")
        wait_for(lambda: "memory window: detail of #1 shown" in log(), 20, "the clicked row's detail")

        import mss
        import mss.tools

        grab = getattr(mss, "MSS", None) or mss.mss
        shot_path = Path(artifacts) / "tray_memory_window.png"

        def screen_with_green_tray_icon():
            with grab(display=display.name) as sct:
                shot = sct.grab(sct.monitors[1])
            # The tray sits in trayer's panel at the top right: the observing icon is green there.
            band = [shot.pixel(x, y) for x in range(shot.width - 200, shot.width) for y in range(32)]
            return shot if sum(near(p, GREEN) for p in band) > 30 else None

        shot = wait_for(screen_with_green_tray_icon, 20, "the green (observing) icon in the system tray")
        mss.tools.to_png(shot.rgb, shot.size, output=str(shot_path))
        assert shot_path.stat().st_size > 10_000

        # Quitting (SIGTERM, as at logout) stops the agent cleanly before the app leaves.
        ui.send_signal(signal.SIGTERM)
        assert ui.wait(timeout=30) == 0
        assert "the agent stopped (exit code 0)" in log()
        assert "gum tray app finished" in log()
