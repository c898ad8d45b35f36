"""Benchmark: what the agent costs while the user reads one page and does nothing else. Prints figures.

    python tests/bench/bench_still_screen.py [--minutes 10]

On a fresh Xvfb with openbox and one window of dense text, `gum start` (screen, input, window observers)
runs for the given time with no input at all. It prints the agent's CPU share of one core (the process and
its tesseract children, from /proc), its peak RSS, the captures and OCR runs the screen observer made, and
how many observer restarts the agent logged. The screen's timer backs off to 5 minutes on a still screen;
its health check must know that (issue 11: zero restarts, < 1% of a core).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/, for xdisplay and helpers

TEXT = "\n".join(
    f"Section {n}: the quarterly budget review covers travel, hiring and the Lisbon office lease" for n in range(30))


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its waited-for children (tesseract runs), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10.0)
    args = ap.parse_args()
    from xdisplay import XDisplay

    work = Path(tempfile.mkdtemp(prefix="gum-still-"))
    display = XDisplay()
    wm = subprocess.Popen(["openbox"], env=display.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) \
        if shutil.which("openbox") else None
    time.sleep(1)
    display.window(TEXT, title="Budget review - notes", at=(100, 80))
    env = {**display.env, "GUM_DATA_DIR": str(work / "data"), "GUM_CONFIG_DIR": str(work / "config"),
           "GUM_KEY_STORE": "file", "GUM_KEY_FILE": str(work / "key"), "GUM_OBSERVERS": "screen,input,window",
           "GUM_API_PORT": str(21000 + os.getpid() % 20000), "OMP_THREAD_LIMIT": "1"}
    log = work / "agent.log"
    with open(log, "w") as out:
        agent = subprocess.Popen([sys.executable, "-m", "gum.cli", "start"], env=env, stdout=out,
                                 stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while "gum agent started" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(20)  # start-up (imports, first capture and its OCR) is not what is measured
        cpu0, t0 = cpu_seconds(agent.pid), time.monotonic()
        time.sleep(args.minutes * 60)
        cpu1, t1 = cpu_seconds(agent.pid), time.monotonic()
        rss = peak_rss_mb(agent.pid)
    finally:
        agent.terminate()
        agent.wait(timeout=60)
        if wm is not None:
            wm.terminate()
        display.stop()
    from gum.store import Store

    os.environ.update({k: v for k, v in env.items() if k.startswith("GUM_")})
    store = Store()
    events = store.recent_events(200)
    restarts = [e["message"] for e in events if e["kind"] == "observer"]
    rows = store.observations(limit=1000)
    store.close()
    text = log.read_text()
    share = (cpu1 - cpu0) / (t1 - t0) * 100
    print(json.dumps({
        "minutes": round((t1 - t0) / 60, 1),
        "agent_cpu_percent_of_a_core": round(share, 2),
        "agent_peak_rss_mb": round(rss),
        "observer_restarts": len(restarts),
        "observations_stored": len(rows),
        "errors_in_log": text.count("ERROR") + text.count("Traceback"),
    }, indent=2))
    for r in restarts:
        print("  restart:", r)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
