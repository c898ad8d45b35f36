"""Helpers shared by tests (pytest puts tests/ on sys.path, so tests `import helpers`)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def have(binary: str) -> bool:
    return shutil.which(binary) is not None


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
