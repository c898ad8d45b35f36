"""A real X display for tests: Xvfb on a free display number, and xmessage windows with real text."""

from __future__ import annotations

import os
import shutil
import subprocess
import time


class XDisplay:
    """An Xvfb server started for a test module; `window(text, ...)` draws an xmessage window."""

    def __init__(self, size: str = "1920x1080x24", *extra: str):
        r, w = os.pipe()
        self.proc = subprocess.Popen(
            ["Xvfb", "-displayfd", str(w), "-screen", "0", size, "-nolisten", "tcp", *extra],
            pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(w)
        with os.fdopen(r) as fh:
            number = fh.readline().strip()
        if not number:
            raise RuntimeError("Xvfb did not start")
        self.name = f":{number}"
        self.children: list[subprocess.Popen] = []

    @property
    def env(self) -> dict:
        return {**os.environ, "DISPLAY": self.name}

    def window(self, text: str, *, title: str | None = None, at: tuple[int, int] = (100, 100)) -> int:
        """Show `text` in an xmessage window at `at`; returns its X window id once it is mapped."""
        args = ["xmessage", "-geometry", f"+{at[0]}+{at[1]}"]
        marker = title or f"gumtest-{len(self.children)}-{time.monotonic_ns()}"
        args += ["-title", marker, text]
        self.children.append(subprocess.Popen(args, env=self.env, stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL))
        wid = self.xdotool("search", "--sync", "--onlyvisible", "--name", f"^{_escape(marker)}$").split()[0]
        return int(wid)

    def close_windows(self) -> None:
        for p in self.children:
            p.kill()
            p.wait()
        self.children = []
        time.sleep(0.2)

    def xdotool(self, *args: str) -> str:
        return subprocess.run(["xdotool", *args], env=self.env, check=True, capture_output=True, text=True,
                              timeout=20).stdout

    def stop(self) -> None:
        self.close_windows()
        self.proc.terminate()
        self.proc.wait(timeout=10)


def _escape(text: str) -> str:
    import re

    return re.escape(text)


def available() -> bool:
    return all(shutil.which(b) for b in ("Xvfb", "xdotool", "xmessage", "tesseract"))
