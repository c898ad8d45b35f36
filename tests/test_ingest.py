"""Ingest: real screenshots through real tesseract, JSONL lines, and bad input that is reported, not fatal."""

from __future__ import annotations

import json

from helpers import render_text_image

from gum.ingest import IngestReport, collect, ingest
from gum.privacy import Redactor


def test_screenshots_are_ocrd_redacted_and_queued_in_name_order(store, tmp_path):
    shots = tmp_path / "shots"
    shots.mkdir()
    render_text_image(shots / "002.png", ["Zotero - My Library", "Thesis / Chapter 4 references"])
    render_text_image(shots / "001.png", ["Checkout", "Card number 4111 1111 1111 1111", "Expires 12/29"])
    redactor = Redactor()
    report = ingest(store, [shots], redactor=redactor)
    assert report.stored == 2 and report.errors == []
    first, second = sorted(store.observations(limit=10), key=lambda o: o.ts)
    assert "Checkout" in first.text and "4111" not in first.text and "[REDACTED:card]" in first.text
    assert "Zotero" in second.text and "Chapter 4" in second.text
    assert redactor.counts["card"] == 1
    assert store.queue_counts()["pending"] == 2


def test_a_corrupt_image_is_reported_clearly_and_the_rest_of_the_batch_goes_on(store, tmp_path):
    shots = tmp_path / "shots"
    shots.mkdir()
    (shots / "a_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 20)
    (shots / "b_empty.jpg").write_bytes(b"")
    render_text_image(shots / "c_fine.png", ["Spotify - Discover Weekly"])
    report = ingest(store, [shots])
    assert report.stored == 1
    assert len(report.errors) == 2
    assert all("not a readable image" in e for e in report.errors)
    assert any("a_broken.png" in e for e in report.errors)
    assert "Spotify" in store.observations()[0].text


def test_jsonl_lines_are_read_and_a_malformed_line_is_skipped_with_its_line_number(store, tmp_path):
    f = tmp_path / "obs.jsonl"
    f.write_text(
        json.dumps({"ts": "2026-03-02T09:00:00Z", "observer": "screen", "app": "Zotero", "window": "Lib",
                    "text": "Thesis references"}) + "\n"
        + "{not json\n"
        + json.dumps({"ts": "2026-03-02T08:00:00Z", "observer": "screen", "text": "earlier"}) + "\n"
        + json.dumps({"observer": "screen"}) + "\n"
    )
    report = ingest(store, [f])
    assert report.stored == 2
    assert [e.split(": skipped")[0] for e in report.errors] == [f"{f}:2", f"{f}:4"]
    texts = [o.text for o in sorted(store.observations(), key=lambda o: o.ts)]
    assert texts == ["earlier", "Thesis references"]


def test_scenario_folders_merge_text_and_indexed_screens_by_time(tmp_path):
    (tmp_path / "observations.jsonl").write_text(
        json.dumps({"ts": "2026-03-02T09:00:00Z", "observer": "screen", "text": "a"}) + "\n"
        + json.dumps({"ts": "2026-03-02T09:10:00Z", "observer": "screen", "text": "c"}) + "\n"
    )
    screens = tmp_path / "screens"
    screens.mkdir()
    render_text_image(screens / "b.png", ["b"], size=(200, 100))
    render_text_image(screens / "z.png", ["z"], size=(200, 100))
    (screens / "index.jsonl").write_text(json.dumps({"file": "b.png", "ts": "2026-03-02T09:05:00Z",
                                                     "app": "Mail", "window": "Inbox"}) + "\n")
    items = collect([tmp_path], IngestReport())
    order = [i.text or i.image.name for i in items]
    # Undated screenshots follow the last dated item.
    assert order == ["a", "b.png", "c", "z.png"]
    assert items[1].app == "Mail"
