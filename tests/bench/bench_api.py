"""API benchmark: query latency through the local HTTP API (p50/p95) at 10k and 100k propositions, and how
many concurrent clients it holds without errors.

    python tests/bench/bench_api.py [--sizes 10000,100000] [--queries 200] [--clients 1,4,16,64,128,256]

Runs in a temporary data dir with a real Agent and ApiServer on 127.0.0.1 (rate limit off, as the figure is
the server's capacity, not the per-token limit). Each client is a thread with its own token and httpx client,
making --per-client queries; a level "holds" when every request of every client got a 200.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import threading
import time
from datetime import timedelta

WORDS = [
    "thesis",
    "zotero",
    "overleaf",
    "graph",
    "neural",
    "network",
    "chapter",
    "advisor",
    "deadline",
    "bouldering",
    "climbing",
    "gym",
    "rust",
    "tokio",
    "service",
    "latency",
    "kubernetes",
    "cluster",
    "nurse",
    "shift",
    "schedule",
    "hospital",
    "invoice",
    "tax",
    "receipt",
    "school",
    "bake",
    "sale",
    "guitar",
    "piano",
    "recording",
    "mix",
    "spotify",
    "playlist",
    "recipe",
    "sourdough",
    "garden",
    "tomato",
    "marathon",
    "training",
    "running",
    "python",
    "pandas",
    "notebook",
    "budget",
    "spreadsheet",
    "flight",
    "booking",
    "lisbon",
    "conference",
    "talk",
    "slides",
    "figma",
    "design",
]


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    k = (len(values) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def fill(store, n: int) -> float:
    """n propositions in one transaction (executemany); returns the seconds it took."""
    from gum.records import iso, utcnow

    rng = random.Random(n)
    now = utcnow()
    rows = []
    for _ in range(n):
        words = rng.sample(WORDS, 6)
        text = f"User {' '.join(words[:3])} while working on {' '.join(words[3:])}"
        ts = iso(now - timedelta(hours=rng.randint(0, 24 * 90)))
        rows.append((text, "bench", rng.randint(1, 10), rng.randint(1, 10), ts, ts))
    t0 = time.perf_counter()
    conn = store.db.conn
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO propositions (text, reasoning, confidence, decay, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    conn.execute("UPDATE propositions SET root_id = id WHERE root_id IS NULL")
    conn.execute("COMMIT")
    return time.perf_counter() - t0


def start_server(n: int):
    os.environ["GUM_DATA_DIR"] = tempfile.mkdtemp(prefix=f"gum-bench-api-{n}-")
    from gum.agent import Agent
    from gum.api import tokens
    from gum.api.server import ApiServer
    from gum.config import Settings

    agent = Agent(Settings(observers=[]), observers=[], serve_api=False)
    fill_s = fill(agent.store(), n)
    api = ApiServer(agent, port=0, rate_per_minute=0).start()
    return agent, api, fill_s, tokens


def bench_latency(n: int, queries: int) -> None:
    from gum.api.client import Client

    agent, api, fill_s, tokens = start_server(n)
    secret, _ = tokens.create_token(agent.store(), "bench", ["propositions:read"])
    rng = random.Random(7)
    with Client(api.url, secret) as c:
        c.query("warm up", limit=10)
        lat, recent_lat = [], []
        for _ in range(queries):
            q = " ".join(rng.sample(WORDS, 3))
            t = time.perf_counter()
            got = c.query(q, limit=10)
            lat.append((time.perf_counter() - t) * 1000)
            assert got, q
        for _ in range(max(20, queries // 5)):
            t = time.perf_counter()
            c.recent(limit=10)
            recent_lat.append((time.perf_counter() - t) * 1000)
    print(
        f"{n:>7,} propositions (inserted in {fill_s:.1f} s): "
        f"GET /v1/query p50 {statistics.median(lat):6.1f} ms, "
        f"p95 {percentile(lat, 0.95):6.1f} ms, max {max(lat):6.1f} ms over {queries}; "
        f"GET /v1/propositions p50 {statistics.median(recent_lat):5.1f} ms, "
        f"p95 {percentile(recent_lat, 0.95):5.1f} ms",
        flush=True,
    )
    api.stop()


def _client(url, secret, seed, queries, barrier, lock, errors, lat) -> None:
    """One concurrent client: waits for the others, then makes `queries` queries, recording errors."""
    from gum.api.client import ApiError, Client

    rng = random.Random(seed)
    with Client(url, secret, timeout=60) as c:
        barrier.wait()
        for _ in range(queries):
            q = " ".join(rng.sample(WORDS, 2))
            t = time.perf_counter()
            try:
                c.query(q, limit=5)
            except ApiError as exc:
                with lock:
                    errors.append(f"{exc.status}: {exc.message[:80]}")
                continue
            with lock:
                lat.append((time.perf_counter() - t) * 1000)


def bench_concurrency(n: int, levels: list[int], per_client: int) -> None:
    agent, api, _, tokens = start_server(n)
    held = 0
    for clients in levels:
        secrets = [
            tokens.create_token(agent.store(), f"c{clients}-{i}", ["propositions:read"])[0]
            for i in range(clients)
        ]
        errors: list[str] = []
        lat: list[float] = []
        lock = threading.Lock()
        barrier = threading.Barrier(clients)

        threads = [
            threading.Thread(
                target=_client, args=(api.url, secrets[i], i, per_client, barrier, lock, errors, lat)
            )
            for i in range(clients)
        ]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        total = clients * per_client
        ok = not errors
        if ok:
            held = clients
        print(
            f"{clients:>4} concurrent clients x {per_client} queries at {n:,} propositions: "
            f"{total - len(errors)}/{total} ok, {total / wall:6.1f} req/s, "
            f"p50 {statistics.median(lat) if lat else 0:7.1f} ms, "
            f"p95 {percentile(lat, 0.95) if lat else 0:7.1f} ms"
            + ("" if ok else f"; first error: {errors[0]}"),
            flush=True,
        )
        if not ok:
            break
    print(f"held without errors: {held} concurrent clients (the most tried: {levels[-1]})")
    api.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--clients", default="1,4,16,64,128,256")
    parser.add_argument("--per-client", type=int, default=5)
    parser.add_argument("--concurrency-size", type=int, default=10000)
    args = parser.parse_args()

    base = tempfile.mkdtemp(prefix="gum-bench-api-")
    os.environ.setdefault("GUM_CONFIG_DIR", base + "/config")
    os.environ.setdefault("GUM_KEY_STORE", "file")
    os.environ.setdefault("GUM_KEY_FILE", base + "/key")
    os.environ.pop("GUM_TRAY_TOKEN", None)
    print(f"gum API benchmark ({os.cpu_count()} cores)")
    for n in [int(x) for x in args.sizes.split(",") if x]:
        bench_latency(n, args.queries)
    bench_concurrency(args.concurrency_size, [int(x) for x in args.clients.split(",") if x], args.per_client)


if __name__ == "__main__":
    main()
