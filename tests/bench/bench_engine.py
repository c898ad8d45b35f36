"""Engine benchmark: propositions per minute of ingest, model tokens/s, query latency at 10k and 100k.

    python tests/bench/bench_engine.py [--observations 10] [--sizes 10000,100000] [--queries 200]

Runs in a temporary data dir. The ingest part uses the real embedded model on the thesis example scenario
(../shared/eval/examples/thesis-deadline) or on --jsonl FILE.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_JSONL = ROOT.parent / "shared" / "eval" / "examples" / "thesis-deadline" / "observations.jsonl"

WORDS = ["thesis", "zotero", "overleaf", "graph", "neural", "network", "chapter", "advisor", "deadline", "bouldering", "climbing", "gym", "rust", "tokio", "service", "latency", "kubernetes", "cluster", "nurse", "shift", "schedule", "hospital", "invoice", "tax", "receipt", "school", "bake", "sale", "guitar", "piano", "recording", "mix", "spotify", "playlist", "recipe", "sourdough", "garden", "tomato", "marathon", "training", "running", "python", "pandas", "notebook", "budget", "spreadsheet", "flight", "booking", "lisbon", "conference", "talk", "slides", "figma", "design"]


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    k = (len(values) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def bench_ingest(jsonl: Path, limit: int) -> None:
    from gum.backends import load_model
    from gum.config import Settings
    from gum.engine import Engine
    from gum.ingest import ingest
    from gum.store import Store

    lines = jsonl.read_text().splitlines()[:limit]
    sample = Path(tempfile.mkdtemp()) / "sample.jsonl"
    sample.write_text("\n".join(lines) + "\n")
    store = Store()
    model = load_model("embedded", Settings())
    t0 = time.perf_counter()
    model.llm
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    report = ingest(store, [sample])
    summary = Engine(store, model, user_name="Priya").run()
    wall = time.perf_counter() - t0
    made = summary.created + summary.revised
    print(f"ingest: {report.stored} observations, {summary.created} created, {summary.revised} revised, "
          f"{summary.attached} attached, {summary.failed} failed in {wall:.1f} s (model load {load_s:.1f} s)")
    print(f"  propositions per minute of ingest: {made / wall * 60:.1f} "
          f"(new or revised; {summary.observations / wall * 60:.1f} observations/min)")
    u = summary.usage
    print(f"  model: {u.prompt_tokens} prompt + {u.completion_tokens} output tokens in {u.seconds:.1f} s of calls; "
          f"{(u.prompt_tokens + u.completion_tokens) / max(u.seconds, 1e-9):.1f} tok/s overall, "
          f"{u.completion_tokens / max(u.seconds, 1e-9):.1f} output tok/s")
    store.close()


def fill(store, n: int) -> None:
    from gum.records import iso, utcnow

    rng = random.Random(n)
    now = utcnow()
    rows = []
    for i in range(n):
        words = rng.sample(WORDS, 6)
        text = f"User {' '.join(words[:3])} while working on {' '.join(words[3:])}"
        ts = iso(now.replace(microsecond=0) - __import__("datetime").timedelta(hours=rng.randint(0, 24 * 90)))
        rows.append((text, "bench", rng.randint(1, 10), rng.randint(1, 10), ts, ts))
    conn = store.db.conn
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO propositions (text, reasoning, confidence, decay, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    conn.execute("UPDATE propositions SET root_id = id WHERE root_id IS NULL")
    conn.execute("COMMIT")


def bench_query(sizes: list[int], queries: int) -> None:
    from gum.search import query
    from gum.store import Store

    for n in sizes:
        os.environ["GUM_DATA_DIR"] = tempfile.mkdtemp(prefix=f"gum-bench-{n}-")
        store = Store()
        t0 = time.perf_counter()
        fill(store, n)
        fill_s = time.perf_counter() - t0
        rng = random.Random(7)
        lat = []
        for _ in range(queries):
            q = " ".join(rng.sample(WORDS, 3))
            t = time.perf_counter()
            query(store, q, limit=10)
            lat.append((time.perf_counter() - t) * 1000)
        print(f"query at {n:>7,} propositions: p50 {statistics.median(lat):6.1f} ms, p95 {percentile(lat, 0.95):6.1f} ms "
              f"({queries} queries of 3 words, limit 10; filled in {fill_s:.1f} s)")
        store.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jsonl", type=Path, default=DEFAULT_JSONL)
    ap.add_argument("--observations", type=int, default=10)
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--skip-ingest", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    base = tempfile.mkdtemp(prefix="gum-bench-")
    os.environ["GUM_DATA_DIR"] = base
    os.environ.setdefault("GUM_CONFIG_DIR", base + "/config")
    os.environ.setdefault("GUM_KEY_FILE", base + "/key")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    if not args.skip_ingest:
        bench_ingest(args.jsonl, args.observations)
    bench_query([int(s) for s in args.sizes.split(",")], args.queries)


if __name__ == "__main__":
    main()
