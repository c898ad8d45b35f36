"""Benchmark: what observing a desktop costs, against the reference approach. Prints figures.

    python tests/bench/bench_observers.py [--static 30] [--changing 60]

On a fresh Xvfb at 1920x1080 covered with windows of dense text (xmessage), it runs:
  1. the gum agent (observers screen,input,window; no model: the engine is kept idle so only observing is
     measured) on a static screen, with a click every 10 s that changes nothing;
  2. the gum agent on a changing screen: every 6 s one window gets new text, the user clicks into it and
     types a few characters (10 events a minute);
  3. the reference approach (gum-ai's screen observer, see FINDINGS.md): grab every monitor at 10 fps
     continuously, and for every click or scroll OCR the whole "before" and "after" frames - on the same
     10 events a minute. Its OCR backlog is drained before its CPU is read.
Each runs in its own process, so CPU (the process plus its tesseract children) and peak RSS are its own.
Phases are shorter than a minute by default and extrapolated to a minute or an hour: the report says so.
"""

from __future__ import annotations

import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/, for xdisplay

WORDS = ["meeting", "budget", "report", "invoice", "quarterly", "design", "review", "customer", "launch", "schedule", "travel", "flight", "hotel", "Lisbon", "Priya", "deadline", "draft", "contract", "pricing", "roadmap", "sprint", "release", "notes", "database", "migration", "backup", "server", "latency", "dashboard", "metrics", "onboarding", "hiring", "interview"]
# Window slots (x, y): 3 columns x 2 rows of text windows covering most of the screen.
SLOTS = [(10 + c * 640, 10 + r * 530) for r in range(2) for c in range(3)]


def dense_text(rng: random.Random, lines: int = 34, words: int = 9) -> str:
    return "\n".join(" ".join(rng.choice(WORDS) for _ in range(words)) for _ in range(lines))


def cpu_now() -> float:
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def stored_bytes(agent, data: Path) -> int:
    """Bytes the data dir holds once the write-ahead log is folded into the database (WAL size is not growth)."""
    agent.store().db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return dir_bytes(data)


EDITOR = """
import sys, tkinter as tk
root = tk.Tk(); root.title("notes.txt - Editor"); root.geometry("620x500+%s+%s")
t = tk.Text(root, font=("DejaVu Sans Mono", 11)); t.pack(fill="both", expand=True)
t.insert("1.0", sys.argv[1]); t.mark_set("insert", "end"); t.focus_force(); root.mainloop()
"""


def have_tk() -> bool:
    return subprocess.run([sys.executable, "-c", "import tkinter"], capture_output=True, check=False).returncode == 0


# -- the phases, each in its own process ----------------------------------------------------------------


def run_agent(seconds: float, out: str) -> None:
    from gum.agent import Agent
    from gum.config import load_settings

    data = Path(os.environ["GUM_DATA_DIR"])
    # The engine stays idle (no batch is ever due): this measures observing, not the model.
    agent = Agent(load_settings(batch_size=256, batch_wait_minutes=10**6), serve_api=False)
    agent.start()
    time.sleep(1.0)
    screen = next(o for o in agent.observers if o.name == "screen")
    deadline = time.monotonic() + 120
    while screen.stats.ocr_runs < 1 and time.monotonic() < deadline:  # the first look at the screen is done
        time.sleep(0.2)
    with screen._capture_lock:
        pass
    ocr_before = len(screen.stats.ocr_ms)
    bytes0, cpu0, t0 = stored_bytes(agent, data), cpu_now(), time.monotonic()
    Path(out + ".ready").touch()
    time.sleep(seconds)
    cpu1, t1 = cpu_now(), time.monotonic()
    agent.stop()
    store = agent.store()
    stats = screen.stats
    Path(out).write_text(json.dumps({
        "cpu_s": cpu1 - cpu0, "wall_s": t1 - t0,
        "bytes": stored_bytes(agent, data) - bytes0,
        "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "child_rss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        "ocr_ms": stats.ocr_ms[ocr_before:], "ocr_pixels": stats.ocr_pixels[ocr_before:],
        "captures": stats.captures, "unchanged": stats.unchanged, "triggers": stats.triggers,
        "observations": store.counts()["observations"],
        "health": {k: v["ok"] for k, v in agent.status()["observers"].items()},
    }))


def run_reference(seconds: float, out: str) -> None:
    import queue

    import mss
    from PIL import Image
    from pynput import mouse

    from gum.ocr import ocr_image

    os.environ["OMP_THREAD_LIMIT"] = "1"
    last: dict = {}
    stop = threading.Event()
    frames = [0]

    def grab_loop():
        with (mss.MSS() if hasattr(mss, "MSS") else mss.mss()) as sct:
            while not stop.is_set():
                t = time.monotonic()
                for i, mon in enumerate(sct.monitors[1:]):
                    last[i] = sct.grab(mon)
                    frames[0] += 1
                time.sleep(max(0.0, 0.1 - (time.monotonic() - t)))  # 10 fps

    work: queue.Queue = queue.Queue()
    ocr_ms: list[float] = []

    def on_event():
        before = dict(last)

        def after():
            time.sleep(0.5)
            for shot in list(before.values()) + list(last.values()):
                work.put(shot)

        threading.Thread(target=after, daemon=True).start()

    def ocr_loop():
        while True:
            shot = work.get()
            if shot is None:
                return
            img = Image.frombytes("RGB", shot.size, shot.bgra, "raw", "BGRX")
            t = time.perf_counter()
            ocr_image(img)
            ocr_ms.append((time.perf_counter() - t) * 1000)

    listener = mouse.Listener(on_click=lambda x, y, b, pressed: on_event() if pressed else None,
                              on_scroll=lambda *a: on_event())
    listener.start()
    listener.wait()
    grabber = threading.Thread(target=grab_loop, daemon=True)
    grabber.start()
    worker = threading.Thread(target=ocr_loop, daemon=True)
    worker.start()
    time.sleep(1.0)
    cpu0, t0 = cpu_now(), time.monotonic()
    Path(out + ".ready").touch()
    time.sleep(seconds)
    stop.set()
    grab_cpu_end = cpu_now()
    listener.stop()
    time.sleep(0.6)
    work.put(None)
    worker.join(timeout=900)  # drain the backlog: its cost belongs to these events
    Path(out).write_text(json.dumps({
        "cpu_s": cpu_now() - cpu0, "wall_s": time.monotonic() - t0, "cpu_s_in_window": grab_cpu_end - cpu0,
        "ocr_ms": ocr_ms, "frames": frames[0], "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "child_rss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    }))


# -- the driver -------------------------------------------------------------------------------------------


def phase(xd, kind: str, seconds: float, changing: bool, tmp: Path) -> dict:
    out = str(tmp / f"{kind}-{'changing' if changing else 'static'}.json")
    env = {**xd.env, "GUM_DATA_DIR": str(tmp / f"data-{kind}-{changing}"), "GUM_CONFIG_DIR": str(tmp / "config"),
           "OMP_THREAD_LIMIT": "1", "GUM_OBSERVERS": "screen,input,window"}
    proc = subprocess.Popen([sys.executable, __file__, f"--{kind}-phase", str(seconds), out], env=env)
    while not os.path.exists(out + ".ready"):
        if proc.poll() is not None:
            raise SystemExit(f"{kind} phase failed to start")
        time.sleep(0.1)
    rng = random.Random(7)
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end - 1:
        t = time.monotonic()
        if not changing:
            xd.xdotool("mousemove", "1900", "1070", "click", "1")  # on the bare desktop: nothing changes
            time.sleep(10)
        elif n % 2 == 0 or xd.editor is None:
            # New content in a window: a page loaded, a message opened.
            slot = (n // 2) % (len(SLOTS) - 1)
            xd.children[slot].kill()
            xd.children[slot].wait()
            xd.window(dense_text(rng), at=SLOTS[slot])
            xd.children[slot] = xd.children.pop()
            x, y = SLOTS[slot]
            xd.xdotool("mousemove", str(x + 200), str(y + 200), "click", "1")
        else:
            # Typing a few words in the editor: a small change.
            x, y = SLOTS[-1]
            xd.xdotool("mousemove", str(x + 300), str(y + 300), "click", "1")
            xd.xdotool("type", "--delay", "80", f" {rng.choice(WORDS)} {rng.choice(WORDS)}")
        time.sleep(max(0.0, 6 - (time.monotonic() - t)) if changing else 0)
        n += 1
    proc.wait(timeout=1200)
    result = json.loads(Path(out).read_text())
    result["events"] = n
    return result


def pct(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def main() -> None:
    import argparse

    import xdisplay

    ap = argparse.ArgumentParser()
    ap.add_argument("--static", type=float, default=30.0)
    ap.add_argument("--changing", type=float, default=60.0)
    ap.add_argument("--agent-phase", nargs=2)
    ap.add_argument("--reference-phase", nargs=2)
    args = ap.parse_args()
    if args.agent_phase:
        return run_agent(float(args.agent_phase[0]), args.agent_phase[1])
    if args.reference_phase:
        return run_reference(float(args.reference_phase[0]), args.reference_phase[1])

    xd = xdisplay.XDisplay("1920x1080x24")
    tmp = Path(tempfile.mkdtemp(prefix="gum-bench-obs-"))
    try:
        rng = random.Random(1)
        for slot in SLOTS[:-1]:
            xd.window(dense_text(rng), at=slot)
        xd.editor = None
        if have_tk():
            x, y = SLOTS[-1]
            xd.editor = subprocess.Popen([sys.executable, "-c", EDITOR % (x, y), dense_text(rng, lines=20)],
                                         env=xd.env)
            xd.xdotool("search", "--sync", "--onlyvisible", "--name", "notes.txt - Editor")
        else:
            xd.window(dense_text(rng), at=SLOTS[-1])
        xd.xdotool("mousemove", "1900", "1070")
        print(f"Xvfb 1920x1080, {len(SLOTS)} windows of dense text; phases: static {args.static:.0f} s, "
              f"changing {args.changing:.0f} s (figures per minute/hour are extrapolated from these)"
              f"\n{'a Tk editor takes typing' if xd.editor else 'no tkinter: typing changes nothing'}\n")
        static = phase(xd, "agent", args.static, False, tmp)
        changing = phase(xd, "agent", args.changing, True, tmp)
        ref = phase(xd, "reference", args.changing, True, tmp)
        ref_static = phase(xd, "reference", args.static, False, tmp)
    finally:
        if xd.editor is not None:
            xd.editor.kill()
        xd.stop()

    def per_min(r, seconds=None):
        return r["cpu_s"] / (seconds or r["wall_s"]) * 60

    whole = ref["ocr_ms"]
    region = changing["ocr_ms"]
    px = changing["ocr_pixels"]
    print("gum observers (screen, input, window; engine idle)")
    print(f"  static screen:   {per_min(static):6.2f} CPU s per minute  ({static['captures']} grabs, "
          f"{static['unchanged']} unchanged, {len(static['ocr_ms'])} OCR runs, triggers {static['triggers']})")
    print(f"  changing screen: {per_min(changing):6.2f} CPU s per minute  ({changing['events']} events, "
          f"{changing['captures']} grabs, {len(region)} OCR runs, triggers {changing['triggers']})")
    print(f"  OCR per captured frame, changed region: median {statistics.median(region) if region else 0:.0f} ms, "
          f"p95 {pct(region, 0.95):.0f} ms, median area {statistics.median(px) if px else 0:.0f} px "
          f"({(statistics.median(px) if px else 0) / (1920 * 1080):.1%} of the frame)")
    print(f"  bytes stored per hour: static {static['bytes'] / static['wall_s'] * 3600 / 1024:.0f} KiB, "
          f"changing {changing['bytes'] / changing['wall_s'] * 3600 / 1024:.0f} KiB "
          f"(database growth after a WAL checkpoint, in 4 KiB pages, so short phases are coarse; screenshots not kept, the default)")
    print(f"  peak RSS: agent {max(static['rss_kb'], changing['rss_kb']) / 1024:.0f} MiB "
          "(tesseract runs as a short-lived child process per OCR)")
    print(f"  observer health at the end: {changing['health']}")
    print("\nreference: grab every monitor at 10 fps, OCR the whole before+after frames of every click/scroll")
    print(f"  static screen:   {per_min(ref_static, args.static):6.2f} CPU s per minute "
          f"({ref_static['events']} clicks, {len(ref_static['ocr_ms'])} whole-frame OCRs)")
    print(f"  changing screen: {per_min(ref, args.changing):6.2f} CPU s per minute of activity (backlog drained: "
          f"{ref['wall_s']:.0f} s wall for {args.changing:.0f} s of events; {len(whole)} whole-frame OCRs; "
          f"{ref['cpu_s_in_window'] / args.changing * 60:.2f} CPU s/min spent within the event window itself)")
    print(f"  OCR per captured frame, whole frame: median {statistics.median(whole):.0f} ms, "
          f"p95 {pct(whole, 0.95):.0f} ms")
    print(f"  peak RSS: {ref['rss_kb'] / 1024:.0f} MiB")
    every = statistics.median(whole) / 100.0
    print(f"  OCR of EVERY grabbed frame at 10 fps would need {every:.0f} cores "
          f"({statistics.median(whole):.0f} ms per frame, 100 ms budget): not run, computed")
    print("\nratios (reference / gum)")
    print(f"  CPU on the static screen: {per_min(ref_static, args.static) / max(per_min(static), 1e-6):.1f}x")
    print(f"  CPU on the changing screen: {per_min(ref, args.changing) / max(per_min(changing), 1e-6):.1f}x")
    if region:
        print(f"  OCR ms per captured frame (median): {statistics.median(whole) / statistics.median(region):.1f}x")


if __name__ == "__main__":
    main()
