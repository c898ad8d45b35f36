"""The redaction corpus: 127 planted secrets in 43 formats (tests/secret_corpus.py), mixed into ordinary text,
as plain text and rendered on screenshots read by real tesseract OCR. None may survive into the database
(any table, the FTS index included), the logs or the model's prompt; the ordinary text around them must
survive, and a clean corpus must come through with no redaction at all.

"Survive" is strict: a secret of 10+ characters survives if any 8 consecutive characters of it (letters and
digits, case-folded) are still there; a shorter one (CVV, PIN, code) if it is still there whole on a line
that starts like the line it was planted in.
"""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path

import pytest
import secret_corpus as corpus
from helpers import have

from gum.backends.scripted import ScriptedModel
from gum.engine import Engine
from gum.privacy import Redactor
from gum.records import Observation

FONTS = ["/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
         "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"]
PAGE = 16  # planted lines per rendered screenshot


def _norm(s: str) -> str:
    return re.sub(r"[^a-z0-9]", "", s.lower())


def surviving(items: list[corpus.Planted], haystack: str) -> list[tuple[str, str]]:
    """(kind, value) of every planted secret still readable in `haystack`."""
    hay = _norm(haystack)
    lines = re.split(r"\n|\\n", haystack)
    out = []
    for item in items:
        anchor = re.search(r"[A-Za-z]{3,}", item.line).group(0)
        for value in item.values:
            v = _norm(value)
            if len(v) >= 10:
                leaked = any(v[i:i + 8] in hay for i in range(len(v) - 7))
            else:  # a CVV, PIN or code: still there, whole, on a line of its own kind
                bounded = re.compile(r"(?<![A-Za-z0-9])" + re.escape(value) + r"(?![A-Za-z0-9])")
                leaked = any(anchor in ln and bounded.search(ln) for ln in lines)
            if v and leaked:
                out.append((item.kind, value))
    return out


def everything_stored(store) -> str:
    """Every row of every table (observations, queue, FTS shadow tables, events...) as one string."""
    tables = [r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()]
    rows = []
    for t in tables:
        rows += [repr(r) for r in store.db.execute(f'SELECT * FROM "{t}"').fetchall()]
    return "\n".join(rows)


def run_engine(store) -> str:
    """Run the engine over the queue with a scripted model; returns every prompt it was sent."""
    model = ScriptedModel(default={"propositions": [
        {"text": "Priya plans the week", "reasoning": "seen", "confidence": 5, "decay": 5}]})
    model_default = model.default

    def reply(call):
        if "relation" in str(call["schema"]):
            return {"relation": "unrelated"}
        if "verdict" in str(call["schema"]).lower():
            return {"verdict": "acted"}
        return model_default

    model.default = reply
    Engine(store, model, user_name="Priya").run()
    return "\n".join(c["system"] + "\n" + c["user"] for c in model.history)


def render(lines: list[str], path: Path, font: str, size: int = 18) -> Path:
    from PIL import Image, ImageDraw, ImageFont

    f = ImageFont.truetype(font, size)
    img = Image.new("RGB", (1920, 40 + len(lines) * int(size * 1.6)), "white")
    draw = ImageDraw.Draw(img)
    for n, line in enumerate(lines):
        draw.text((30, 20 + n * int(size * 1.6)), line.replace("\t", "    "), fill="black", font=f)
    img.save(path)
    return path


def test_the_corpus_has_at_least_100_secrets_in_at_least_30_formats():
    items = corpus.planted()
    assert len(items) >= 100 and len({i.kind for i in items}) >= 30


def test_no_planted_secret_reaches_the_database_the_fts_index_the_logs_or_the_prompt(store, caplog):
    from gum.agent import Agent
    from gum.config import load_settings

    caplog.set_level(logging.DEBUG)
    items = corpus.planted()
    agent = Agent(load_settings(), observers=[], serve_api=False)
    for n in range(0, len(items), 8):  # several secrets per observation, as on a real screen
        chunk = items[n:n + 8]
        agent.emit(Observation("screen", corpus.document(chunk), app="Terminal", window=chunk[0].line[:60]))
    prompts = run_engine(agent.store())
    stored = everything_stored(agent.store())
    assert surviving(items, stored) == []
    assert surviving(items, caplog.text) == []
    assert surviving(items, prompts) == []
    assert "observations_fts" in stored or agent.store().db.execute(
        "SELECT COUNT(*) FROM observations_fts").fetchone()[0] > 0
    # The ordinary text around the secrets is kept whole.
    for line in corpus.FILLER:
        assert line in stored
    print(f"\nplain: {len(items)} planted in {len({i.kind for i in items})} formats, 0 surviving; "
          f"redactions {agent.redactor.report()}", file=sys.stderr)


def test_the_clean_corpus_is_not_redacted_at_all():
    sys.path.insert(0, str(Path(__file__).parent / "eval"))
    from render_screens import SCREENS

    screen_lines = [line for screens in SCREENS.values() for s in screens for line in s["lines"]]
    r = Redactor()
    changed = [line for line in corpus.CLEAN + corpus.FILLER + screen_lines if r.redact(line) != line]
    assert changed == [], f"false redactions: {changed}"
    assert r.counts == {}


@pytest.mark.skipif(not have("tesseract"), reason="needs tesseract")
def test_secrets_on_screenshots_do_not_survive_ocr_and_ordinary_text_around_them_does(store, tmp_path, caplog):
    """Pages of planted lines in three fonts, through real OCR and the ingest path into the store."""
    from gum.ingest import ingest
    from gum.ocr import ocr_file

    caplog.set_level(logging.DEBUG)
    items = corpus.planted()
    pages = [items[i:i + PAGE] for i in range(0, len(items), PAGE)]
    shots = tmp_path / "shots"
    shots.mkdir()
    raw_ocr = []
    for n, page in enumerate(pages):
        path = render(corpus.document(page).split("\n"), shots / f"{n:02d}.png", FONTS[n % len(FONTS)])
        raw_ocr.append(ocr_file(path))
    readable = surviving(items, "\n".join(raw_ocr))
    assert len(readable) >= 0.7 * sum(len(i.values) for i in items), "OCR must actually read the secrets"
    redactor = Redactor()
    ingest(store, [shots], redactor=redactor)
    prompts = run_engine(store)
    stored = everything_stored(store)
    assert surviving(items, stored) == []
    assert surviving(items, caplog.text) == []
    assert surviving(items, prompts) == []
    # Lines without a secret read the same after redaction as OCR read them.
    redacted = [Redactor().redact(t) for t in raw_ocr]
    filler_lines = [ln for t in raw_ocr for ln in t.split("\n") if ln in corpus.FILLER]
    assert filler_lines and all(ln in "\n".join(redacted) for ln in filler_lines)
    print(f"\nocr: {len(readable)} secret values readable by OCR before redaction, 0 surviving; "
          f"redactions {redactor.report()}", file=sys.stderr)


@pytest.mark.skipif(not have("tesseract"), reason="needs tesseract")
def test_the_clean_corpus_on_a_screenshot_is_not_redacted(tmp_path):
    from gum.ocr import ocr_file

    text = ocr_file(render(corpus.CLEAN, tmp_path / "clean.png", FONTS[1]))
    r = Redactor()
    out = r.redact(text)
    changed = [(a, b) for a, b in zip(text.split("\n"), out.split("\n")) if a != b]
    assert changed == [], f"false redactions after OCR: {changed}"
