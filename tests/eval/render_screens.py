"""Render the screenshots of the eval scenarios from text (Pillow + DejaVu fonts), and check tesseract reads them.

    python tests/eval/render_screens.py          # (re)write screens/*.png and screens/index.jsonl
    python tests/eval/render_screens.py --check  # also OCR each screen and report lines tesseract missed

The PNGs are committed, so scenarios run without this script; it is here to change or add a screen.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
FONTS = Path("/usr/share/fonts/truetype/dejavu")
SIZE = (1280, 800)

# scenario -> screens: file, ts, app, window, mono (terminal font), lines
SCREENS: dict[str, list[dict]] = {
    "rust-service-deadlock": [
        {"file": "01-grafana.png", "ts": "2026-02-10T09:05:00+00:00", "app": "Grafana - Firefox",
         "window": "ledger-api latency - Grafana", "mono": False, "lines": [
             "Grafana  /  Dashboards  /  ledger-api (prod)",
             "p99 latency: 30.2 s   (normal: 45 ms)",
             "Requests in flight: 512 (max pool 512)",
             "Alert FIRING: ledger-api requests hanging since 08:47",
             "Panel: tokio worker threads busy = 8 / 8",
         ]},
        {"file": "02-terminal-logs.png", "ts": "2026-02-10T09:12:00+00:00", "app": "Alacritty",
         "window": "arjun@devbox: ~/src/ledger-api", "mono": True, "lines": [
             "$ kubectl logs deploy/ledger-api --since=30m | grep WARN",
             "WARN ledger_api::settle: acquiring accounts lock took 29871 ms",
             "WARN ledger_api::settle: acquiring accounts lock took 30004 ms",
             "$ RUST_LOG=debug cargo run --bin ledger-api",
             "Compiling ledger-api v0.14.2 (/home/arjun/src/ledger-api)",
             "Finished dev profile in 41.7s",
         ]},
        {"file": "03-vscode-settle.png", "ts": "2026-02-10T09:40:00+00:00", "app": "Visual Studio Code",
         "window": "settle.rs - ledger-api - Visual Studio Code", "mono": True, "lines": [
             "src/settle.rs",
             "let accounts = self.accounts.lock().unwrap();",
             "// BUG: std::sync::Mutex guard held across .await",
             "let rate = self.fx_client.get_rate(currency).await?;",
             "accounts.apply(tx, rate);",
             "// fix: use tokio::sync::Mutex or drop the guard before await",
         ]},
        {"file": "04-hackernews.png", "ts": "2026-02-10T10:15:00+00:00", "app": "Firefox",
         "window": "Hacker News", "mono": False, "lines": [
             "Hacker News  new | past | comments | ask | show",
             "1. Why we rewrote our payments service in Go (blog.example.com)",
             "2. Show HN: A tiny Kubernetes operator in 300 lines",
             "3. The Rust async book, 2026 edition",
             "(page open for 6 seconds)",
         ]},
        {"file": "05-cargo-test.png", "ts": "2026-02-10T11:02:00+00:00", "app": "Alacritty",
         "window": "arjun@devbox: ~/src/ledger-api", "mono": True, "lines": [
             "$ cargo test settle::",
             "running 7 tests",
             "test settle::tests::concurrent_settlements_do_not_deadlock ... ok",
             "test settle::tests::fx_timeout_releases_lock ... ok",
             "test result: ok. 7 passed; 0 failed",
         ]},
        {"file": "06-github-pr.png", "ts": "2026-02-10T11:30:00+00:00", "app": "GitHub - Firefox",
         "window": "Fix deadlock in settlement by not holding mutex across await #482", "mono": False, "lines": [
             "Fix deadlock in settlement by not holding mutex across await #482",
             "arjun-mehta wants to merge 1 commit into main from fix/settle-deadlock",
             "Reviewers: sofia-k (requested)",
             "Replaces std::sync::Mutex with tokio::sync::Mutex in settle.rs",
             "and adds a regression test for concurrent settlements.",
         ]},
    ],
    "job-seeker-ux": [
        {"file": "01-linkedin-jobs.png", "ts": "2026-01-19T09:10:00+00:00", "app": "LinkedIn - Chrome",
         "window": "Jobs | LinkedIn", "mono": False, "lines": [
             "LinkedIn Jobs   Search: UX designer   Location: Remote",
             "Senior UX Designer - Canva - Remote   (Applied 3 days ago)",
             "Product Designer - Amazon - Seattle   Promoted",
             "UX Designer II - Duolingo - Pittsburgh   (Saved)",
             "Open to work: UX Designer, Product Designer",
         ]},
        {"file": "02-resume.png", "ts": "2026-01-19T09:30:00+00:00", "app": "Google Docs - Chrome",
         "window": "Lena Fischer - Resume (UX) - Google Docs", "mono": False, "lines": [
             "LENA FISCHER  -  UX Designer",
             "Experience",
             "UX Designer, Pinecrest Bank (2021-2025): redesigned the mobile onboarding,",
             "cut drop-off by 22%. Ran 40+ usability tests.",
             "Skills: Figma, user research, prototyping, design systems",
         ]},
        {"file": "03-canva-email.png", "ts": "2026-01-19T11:05:00+00:00", "app": "Gmail - Chrome",
         "window": "Interview invitation: Senior UX Designer - Inbox", "mono": False, "lines": [
             "From: Priya Nair (Talent, Canva)",
             "Subject: Interview invitation: Senior UX Designer",
             "Hi Lena, we loved your portfolio. Could you do a 45 minute portfolio",
             "review on Thursday Jan 22 at 10:00? Reply to confirm.",
             "Lena: Thursday at 10 works perfectly, thank you!",
         ]},
        {"file": "04-webflow.png", "ts": "2026-01-19T14:00:00+00:00", "app": "Webflow - Chrome",
         "window": "lenafischer.design - Webflow Designer", "mono": False, "lines": [
             "Webflow Designer  -  lenafischer.design",
             "Page: Case studies / Pinecrest mobile onboarding",
             "Edited: hero image, results section (drop-off -22%)",
             "Publish to lenafischer.design",
         ]},
        {"file": "05-calendar.png", "ts": "2026-01-20T08:45:00+00:00", "app": "Google Calendar - Chrome",
         "window": "January 2026 - Calendar", "mono": False, "lines": [
             "Thu 22 Jan  10:00-10:45  Canva portfolio review (Senior UX Designer)",
             "Thu 22 Jan  09:00  Practice presentation with Mia",
             "Sat 24 Jan  Pottery class 11:00",
         ]},
    ],
}


def font(mono: bool, size: int = 22):
    from PIL import ImageFont

    name = "DejaVuSansMono.ttf" if mono else "DejaVuSans.ttf"
    return ImageFont.truetype(str(FONTS / name), size)


def render(path: Path, window: str, lines: list[str], mono: bool) -> None:
    """A window-like screenshot: a title bar with the window name, then the lines."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", SIZE, "white")
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, 0, SIZE[0], 44], fill=(225, 228, 232))
    draw.text((20, 10), window, fill="black", font=font(False, 20))
    y = 80
    for line in lines:  # dark text on white, terminals too: it is what tesseract reads best
        draw.text((40, y), line, fill="black", font=font(mono))
        y += 40
    img.save(path, optimize=True)


def main(check: bool) -> int:
    missed = 0
    for scenario, screens in SCREENS.items():
        folder = SCENARIOS / scenario / "screens"
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "index.jsonl", "w", encoding="utf-8") as index:
            for s in screens:
                render(folder / s["file"], s["window"], s["lines"], s["mono"])
                entry = {k: s[k] for k in ("file", "ts", "app", "window")}
                index.write(json.dumps(entry) + "\n")
        if check:
            from gum.ocr import ocr_file

            for s in screens:
                text = "".join(ocr_file(folder / s["file"]).split())
                for line in s["lines"]:
                    if "".join(line.split()) not in text:  # spacing around punctuation may differ
                        missed += 1
                        print(f"{scenario}/{s['file']}: OCR differs on: {line!r}")
        print(f"{scenario}: {len(screens)} screens")
    if check:
        print(f"{missed} lines not read verbatim")
    return 0


if __name__ == "__main__":
    sys.exit(main("--check" in sys.argv))
