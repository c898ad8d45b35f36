"""Recorded activity into the store: folders of screenshots (OCR'd) and JSONL files of text observations.

A folder may follow the scenario layout of `gum eval` (observations.jsonl, screens/, screens/index.jsonl):
items are merged by time, and screenshots without an index entry take their place in name order after the
last dated item. A plain folder of images is taken in name order (or file-time order), dated by file time.

Every item has an identity (`identity()`), so ingesting the same activity again stores nothing twice: a re-run
after a crash, a folder that gained two files, an export imported again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path

from .errors import InputError
from .privacy import Redactor
from .records import Observation, iso
from .store import Store
from .times import parse_time

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}


@dataclass
class Item:
    """One thing to ingest, before OCR: a text observation, or an image to read."""

    ts: datetime | None
    order: int
    observer: str = "screen"
    app: str = ""
    window: str = ""
    text: str | None = None
    image: Path | None = None
    meta: dict = field(default_factory=dict)
    dated: bool = True  # False when the source gave no time and collect() placed it after the dated items


@dataclass
class IngestReport:
    """What an ingest did: observations stored anew, merged into an earlier one, found already stored."""

    stored: int = 0
    merged: int = 0
    existing: int = 0  # already stored (the same identity): not stored again
    segments: int = 0  # activities the captures formed (gum/segments.py)
    queued: int = 0  # of which the model reads (glances and repeats of what it read cost no call)
    errors: list[str] = field(default_factory=list)


def _digest(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else part.encode("utf-8", "replace"))
        h.update(b"\x00")
    return h.hexdigest()


def identity(item: Item, obs: Observation | None, image_bytes: bytes | None = None) -> str:
    """What makes recorded input the same input again, wherever it is read from.

    An image is its content (a renamed or moved screenshot is the same screenshot); a JSONL line with an
    "id" of its own is that id (with its time and observer, so two unrelated exports numbered from 1 do not
    collide); any other line is what it says: time as given, observer, app, window and text. The text is
    taken after redaction, so the identity holds nothing redaction removed.
    """
    if image_bytes is not None:
        return "image:" + _digest(image_bytes)
    assert obs is not None, "a text item's identity is what its observation says"
    ts = iso(item.ts) if item.dated and item.ts else ""
    if item.meta.get("id") not in (None, ""):
        return "line-id:" + _digest(json.dumps(item.meta["id"], sort_keys=True), ts, obs.observer)
    return "line:" + _digest(ts, obs.observer, obs.app, obs.window, obs.text)


def read_jsonl(path: Path, report: IngestReport) -> list[Item]:
    """Text observations from a JSONL file; a malformed line is reported and skipped."""
    items = []
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        report.errors.append(f"{path}: cannot read ({exc})")
        return items
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            text = data.get("text")
            if not isinstance(text, str):
                raise ValueError('no "text" string')
            ts = parse_time(data.get("ts"))
        except (ValueError, TypeError) as exc:
            report.errors.append(f"{path}:{n}: skipped, {exc}")
            continue
        meta = {k: v for k, v in data.items() if k not in {"ts", "observer", "app", "window", "text"}}
        items.append(
            Item(ts=ts, order=n, observer=str(data.get("observer") or "text"), app=str(data.get("app") or ""),
                 window=str(data.get("window") or ""), text=text, meta=meta)
        )
    return items


def read_screens(folder: Path, report: IngestReport, order: str = "name") -> list[Item]:
    """Images of a folder, with their metadata from index.jsonl when it is there."""
    index: dict[str, dict] = {}
    index_file = folder / "index.jsonl"
    if index_file.exists():
        for n, line in enumerate(index_file.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                index[str(entry["file"])] = entry
            except (ValueError, KeyError, TypeError) as exc:
                report.errors.append(f"{index_file}:{n}: skipped, {exc}")
    images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if order == "mtime":
        images.sort(key=lambda p: (p.stat().st_mtime, p.name))
    items = []
    for n, img in enumerate(images):
        entry = index.get(img.name, {})
        ts = None
        if entry.get("ts"):
            try:
                ts = parse_time(entry["ts"])
            except (ValueError, TypeError):
                report.errors.append(f"{index_file}: bad ts for {img.name}")
        elif not index:
            ts = datetime.fromtimestamp(img.stat().st_mtime, timezone.utc)
        items.append(Item(ts=ts, order=n, observer="screen", app=str(entry.get("app") or ""),
                          window=str(entry.get("window") or ""), image=img))
    return items


def collect(paths: list[Path], report: IngestReport, order: str = "name") -> list[Item]:
    """Everything under `paths`, in time order."""
    dated: list[Item] = []
    undated: list[Item] = []
    for path in paths:
        path = Path(path)
        if not path.exists():
            report.errors.append(f"{path}: no such file or folder")
            continue
        found: list[Item] = []
        if path.is_dir():
            for jsonl in sorted(path.glob("*.jsonl")):
                if jsonl.name != "index.jsonl":
                    found += read_jsonl(jsonl, report)
            for folder in [path, *sorted(p for p in path.iterdir() if p.is_dir())]:
                if any(p.suffix.lower() in IMAGE_SUFFIXES for p in folder.iterdir() if p.is_file()):
                    found += read_screens(folder, report, order)
        elif path.suffix.lower() == ".jsonl":
            found = read_jsonl(path, report)
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            found = [Item(ts=datetime.fromtimestamp(path.stat().st_mtime, timezone.utc), order=0, image=path)]
        else:
            report.errors.append(f"{path}: not a folder, a .jsonl file or an image")
        for item in found:
            (dated if item.ts else undated).append(item)
    dated.sort(key=lambda i: i.ts)
    # Undated items keep their order and follow the last dated one, a second apart.
    last = dated[-1].ts if dated else datetime.now(timezone.utc).replace(microsecond=0)
    for n, item in enumerate(undated, 1):
        item.ts = last + timedelta(seconds=n)
        item.dated = False
    return dated + undated


def ingest(
    store: Store,
    paths: list[Path],
    *,
    redactor: Redactor | None = None,
    order: str = "name",
    progress: Callable[[int, int, Item], None] | None = None,
    mode: str = "segments",
    force: bool = False,
) -> IngestReport:
    """Store observations from `paths` (OCR'ing images) through the intake, as the agent stores what it
    observes: redacted, grouped into activity segments, queued for the engine.

    What is already stored (the same identity) is counted in `existing` and not stored again, nor OCR'd
    again; with `force` it is stored anew all the same, and each copy counts as evidence of its own.
    """
    from .intake import Intake
    from .ocr import ocr_file

    report = IngestReport()
    intake = Intake(lambda: store, redactor=redactor or Redactor(), mode=mode)
    items = collect(paths, report, order)
    for n, item in enumerate(items, 1):
        if progress:
            progress(n, len(items), item)
        text = item.text
        image_bytes = None
        if item.image is not None:
            try:
                image_bytes = item.image.read_bytes()
            except OSError as exc:
                report.errors.append(f"{item.image}: cannot read ({exc})")
                continue
            if not force and store.has_identity(identity(item, None, image_bytes)):
                report.existing += 1
                continue
            try:
                text = ocr_file(item.image)
            except InputError as exc:
                report.errors.append(str(exc))
                continue
        obs = Observation(
            observer=item.observer,
            text=text or "",
            ts=item.ts,
            app=item.app,
            window=item.window,
            image_path=str(item.image.resolve()) if item.image else None,
            meta=item.meta,
        )
        if force:
            obs_id = intake.add(obs)
            if obs_id is not None:
                store.claim_identity(identity(item, obs, image_bytes), obs_id)
        else:
            intake.add(obs, identity=partial(identity, item, image_bytes=image_bytes))
    intake.close_all("end of input", recorded=not force)
    stats = intake.stats()
    report.stored, report.merged = stats["stored"], stats["merged"]
    report.existing += stats["existing"]
    report.segments, report.queued = stats["segments"], stats["queued"]
    return report
