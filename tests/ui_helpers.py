"""Shared by the tray app's tests: a real agent (`gum start`) on loopback over a seeded database."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from helpers import free_port

# The Qt tests run on real widgets without a display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

__all__ = ["RunningAgent", "Seeded", "free_port", "seed"]


@dataclass
class Seeded:
    """Ids of what seed() put in the database."""

    ids: dict[str, int] = field(default_factory=dict)
    observations: dict[str, int] = field(default_factory=dict)
    screenshot: Path | None = None


def seed(data_dir: Path) -> Seeded:
    """A small, varied memory: evidence with a kept screenshot, a revised proposition, an old one."""
    from PIL import Image, ImageDraw

    from gum.records import Observation, Proposition, utcnow
    from gum.store import Store

    out = Seeded()
    shots = data_dir / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    out.screenshot = shots / "rust-book.png"
    img = Image.new("RGB", (640, 360), "white")
    ImageDraw.Draw(img).text((20, 20), "The Rust Programming Language - Ownership", fill="black")
    img.save(out.screenshot)

    now = utcnow()
    store = Store()
    try:
        o1, _ = store.add_observation(Observation(
            "screen", "The Rust Programming Language. Chapter 4: Understanding Ownership. fn main() { let s = "
            "String::from(\"hello\"); }", ts=now - timedelta(hours=3), app="firefox",
            window="The Rust Book - Firefox", image_path=str(out.screenshot)), enqueue=False)
        o2, _ = store.add_observation(Observation(
            "window", "cargo build --release; error[E0382]: borrow of moved value", ts=now - timedelta(hours=2),
            app="alacritty", window="~/src/tracer - cargo"), enqueue=False)
        o3, _ = store.add_observation(Observation(
            "screen", "Trail running plan: 3x10 km this week, long run Sunday", ts=now - timedelta(days=20),
            app="obsidian", window="Training plan"), enqueue=False)
        out.observations = {"rust_book": o1, "cargo": o2, "running": o3}

        def add(key, text, confidence, decay, evidence, age=timedelta(hours=1), reasoning=""):
            p = Proposition(text=text, reasoning=reasoning or f"Seen in {len(evidence)} observations.",
                            confidence=confidence, decay=decay, created_at=now - age, updated_at=now - age)
            out.ids[key] = store.insert_proposition(p, evidence)

        add("rust", "Priya is learning the Rust programming language", 8, 7, [o1, o2],
            reasoning="She read the ownership chapter of the Rust book and fixed a borrow error in cargo.")
        add("tracer", "Priya works on a project called tracer", 6, 6, [o2])
        add("running", "Priya trains for a trail running race", 4, 8, [o3], age=timedelta(days=20))
        add("coffee", "Priya drinks a lot of coffee", 2, 3, [], age=timedelta(days=3))
        add("editor", "Priya uses Vim", 5, 7, [o2], age=timedelta(hours=5))
        # A revised proposition: version 2 of "editor" with more confidence.
        new = Proposition(text="Priya uses Neovim as her editor", reasoning="Window titles show nvim.",
                          confidence=7, decay=7, updated_at=now - timedelta(minutes=30))
        out.ids["editor"] = store.revise(out.ids["editor"], new)
    finally:
        store.close()
    return out


class RunningAgent:
    """`gum start` as a child process with the tray's kind of token, on a free loopback port."""

    def __init__(self, data_dir: Path, log_path: Path):
        self.token = "gum_tray_" + secrets.token_urlsafe(24)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "GUM_OBSERVERS": "none", "GUM_API_PORT": str(self.port),
               "GUM_TRAY_TOKEN_FD": "0", "GUM_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - open for the agent's whole life, closed in stop()
        # The token goes down stdin, as the tray hands it over (gum/handoff.py).
        self.proc = subprocess.Popen([sys.executable, "-m", "gum.cli", "start"], env=env, stdin=subprocess.PIPE,
                                     stdout=self._log, stderr=subprocess.STDOUT)
        self.proc.stdin.write((self.token + "\n").encode())
        self.proc.stdin.close()

    def healthy(self) -> bool:
        from gum.api.client import ApiError, Client

        if self.proc.poll() is not None:
            raise RuntimeError(f"the agent exited: {self.log_path.read_text()[-2000:]}")
        try:
            with Client(self.url, self.token, timeout=2) as c:
                return bool(c.health().get("ok"))
        except ApiError:
            return False

    def client(self):
        from gum.api.client import Client

        return Client(self.url, self.token)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


@contextmanager
def tray_and_ui(tmp_path: Path, *ui_args: str, observers: str = "none"):
    """The tray app on a real X display: Xvfb, a system tray (trayer) and `gum ui UI_ARGS` with its own agent.
    Yields (display, the ui process, a function returning its log so far); everything stops afterwards."""
    from xdisplay import XDisplay

    display = XDisplay("1280x800x24")
    tray = ui = None
    log_path = tmp_path / "ui.log"
    try:
        env = {**display.env, "QT_QPA_PLATFORM": "xcb", "GUM_OBSERVERS": observers, "GUM_API_PORT": str(free_port()),
               "GUM_CACHE_DIR": str(tmp_path / "cache"), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
        env.pop("GUM_TRAY_TOKEN", None)
        tray = subprocess.Popen(["trayer", "--edge", "top", "--align", "right", "--widthtype", "request",
                                 "--height", "32", "--transparent", "false", "--tint", "0x303030",
                                 "--SetDockType", "true"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        display.xdotool("search", "--sync", "--classname", "trayer")
        with open(log_path, "wb") as out:
            ui = subprocess.Popen([sys.executable, "-m", "gum.cli", "ui", *ui_args], env=env, stdout=out,
                                  stderr=subprocess.STDOUT)
        yield display, ui, lambda: log_path.read_text(errors="replace")
    finally:
        for p in (ui, tray):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
        display.stop()
        os.environ.pop("GUM_TRAY_TOKEN", None)
