"""Helpers shared by tests (pytest puts tests/ on sys.path, so tests `import helpers`)."""

from __future__ import annotations

import os
import shutil
import socket
import time
from contextlib import contextmanager
from pathlib import Path


def have(binary: str) -> bool:
    return shutil.which(binary) is not None


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float = 10.0, what: str = "the condition", step: float = 0.1):
    """Poll `predicate` until it returns something true and return that; fail the test after `timeout`.

    For effects of threads and child processes (log lines, windows, rows) that have no signal to wait on.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    value = predicate()
    if not value:
        raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
    return value


def render_text_image(path: Path, lines: list[str], size=(1280, 720), font_size=22) -> Path:
    """A screenshot-like PNG of dark text on white, for real OCR."""
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    font = None
    for candidate in ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",):
        if os.path.exists(candidate):
            font = ImageFont.truetype(candidate, font_size)
    font = font or ImageFont.load_default()
    y = 30
    for line in lines:
        draw.text((40, y), line, fill="black", font=font)
        y += int(font_size * 1.6)
    img.save(path)
    return path


@contextmanager
def model_plugin(plugin_name: str, backend: str, model):
    """While inside: a plugin named `plugin_name` that registers `model` as the model back-end `backend`,
    through the same register_models hook an installed plugin implements."""
    from gum.hookspecs import hookimpl
    from gum.plugins import get_plugin_manager

    class ModelPlugin:
        @hookimpl
        def register_models(self, register):
            register(backend, lambda spec, settings: model)

    pm = get_plugin_manager()
    pm.register(ModelPlugin(), name=plugin_name)
    try:
        yield model
    finally:
        pm.unregister(name=plugin_name)


def per_observation(reply_one):
    """A scripted model's reply that answers a pack (several fenced observations in one call) with
    `reply_one`'s facts for each observation, in order, as the pack's grammar makes the real model do."""
    import re

    def reply(call):
        if "observations" in call["schema"].get("properties", {}):
            parts = re.findall(r"<observation[^>]*>\n.*?\n</observation>", call["user"], re.DOTALL)
            return {"observations": [{"facts": reply_one({**call, "user": part})["facts"]} for part in parts]}
        return reply_one(call)

    return reply
