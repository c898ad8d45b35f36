"""Text from images with tesseract, one thread per call (OpenMP threading doubles the cost on few cores)."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import InputError


def load_image(path: str | Path):
    """Open an image fully (so a truncated file fails here, with a clear message, not later)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            return img.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"{path}: not a readable image ({exc.__class__.__name__}: {exc})") from exc


def ocr_image(image, *, lang: str = "eng") -> str:
    """The text tesseract reads in a PIL image, whitespace tidied."""
    import pytesseract

    # Measured: a dense 1080p frame takes ~9.5 s with OpenMP threads and ~4.7 s with one. The limit goes to
    # tesseract only: set in this process's environment it would also cap the model's threads here
    # (llama.cpp's OpenMP reads it when it loads), and the model would never use the cores it is given when
    # the user is away. pytesseract hands its module's `environ` to the tesseract it starts.
    pytesseract.pytesseract.environ = {**os.environ, "OMP_THREAD_LIMIT": os.environ.get("OMP_THREAD_LIMIT", "1")}
    try:
        text = pytesseract.image_to_string(image, lang=lang, config="--psm 3")
    except pytesseract.TesseractNotFoundError as exc:
        raise InputError("tesseract is not installed: install Debian's tesseract-ocr (packaging/install.sh)") from exc
    except pytesseract.TesseractError as exc:
        raise InputError(f"tesseract failed: {exc}") from exc
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return "\n".join(line for line in lines if line)


def ocr_file(path: str | Path) -> str:
    return ocr_image(load_image(path))
