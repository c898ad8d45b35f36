"""Draw the tray icons in resources/icons/ (run once; the PNGs are committed): python packaging/make_icons.py"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parent.parent / "resources" / "icons"
BIG = 512  # drawn large, then scaled down, for smooth edges
COLOURS = {
    "observing": (46, 160, 67),
    "paused": (128, 128, 128),
    "working": (33, 118, 214),
    "error": (208, 44, 44),
    "stopped": (90, 90, 90),
}


def draw(state: str) -> Image.Image:
    img = Image.new("RGBA", (BIG, BIG), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    c = COLOURS[state]
    white = (255, 255, 255, 255)
    if state == "stopped":  # a hollow ring: nothing is running
        d.ellipse((24, 24, BIG - 24, BIG - 24), outline=c, width=56)
    else:
        d.ellipse((16, 16, BIG - 16, BIG - 16), fill=c)
    mid = BIG // 2
    if state == "observing":  # an open eye
        d.ellipse((96, 176, BIG - 96, BIG - 176), fill=white)
        d.ellipse((mid - 60, mid - 60, mid + 60, mid + 60), fill=c)
        d.ellipse((mid - 26, mid - 26, mid + 26, mid + 26), fill=white)
    elif state == "paused":  # two bars
        d.rounded_rectangle((mid - 110, 140, mid - 40, BIG - 140), radius=18, fill=white)
        d.rounded_rectangle((mid + 40, 140, mid + 110, BIG - 140), radius=18, fill=white)
    elif state == "working":  # three dots: thinking
        for dx in (-120, 0, 120):
            d.ellipse((mid + dx - 44, mid - 44, mid + dx + 44, mid + 44), fill=white)
    elif state == "error":  # an exclamation mark
        d.rounded_rectangle((mid - 36, 110, mid + 36, 330), radius=30, fill=white)
        d.ellipse((mid - 40, 360, mid + 40, 440), fill=white)
    return img


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for state in COLOURS:
        draw(state).resize((64, 64), Image.LANCZOS).save(OUT / f"tray-{state}.png", optimize=True)
        print(OUT / f"tray-{state}.png")


if __name__ == "__main__":
    main()
