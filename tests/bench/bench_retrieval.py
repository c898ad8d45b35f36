"""Retrieval benchmark: p50/p95 of gum.search.query, of GET /v1/query and of the MCP tool get_user_context,
at 10k, 100k and 1M propositions, with the query's embedding time shown on its own.

    python tests/bench/bench_retrieval.py [--sizes 10000,100000,1000000] [--queries 200] [--no-api] [--profile]
                                          [--keep DIR]

The database is filled with the haystack of `gum eval` (gum/haystack.py: realistic propositions about one
user, ages over a year) and their real embeddings; past the 12,700 distinct ones, texts repeat with a
suffix and their vectors with a little noise, so the lexical and the vector index grow as they would. The
queries are the questions of the eval scenarios (tests/eval/scenarios and tests/eval/questions-shared.json),
asked as an assistant asks them. Runs in a temporary data dir (or DIR/<size>, filled once, with --keep).

"cold" is a question the process has not embedded before (the encoder's cache of question vectors is emptied
before each one), "warm" the same question asked again (its vector remembered); the API and the MCP tool are
measured cold, the API twice: with the server in this process (a thread) and with `gum start` in its own, as
an assistant reaches it. OPENBLAS_NUM_THREADS=1 unless set, as the `gum` command does (gum/cli.py).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SUFFIXES = ["", " again", " once more", " as before", " like last time", " for a while", " now and then",
            " every so often", " more than once", " at times"]


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    k = (len(values) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def questions() -> list[str]:
    out = []
    for f in sorted((ROOT / "tests" / "eval" / "scenarios").glob("*/scenario.json")):
        out += [x["question"] for x in json.loads(f.read_text())["facts"] if x.get("question")]
    shared = json.loads((ROOT / "tests" / "eval" / "questions-shared.json").read_text())
    out += [q for name, qs in shared.items() if not name.startswith("_") for q in qs.values()]
    return out


def fill(store, n: int, user_name: str = "Dana") -> float:
    """n propositions with their vectors, in one transaction; returns the seconds it took."""
    import numpy as np

    from gum import haystack, vectors
    from gum.records import iso, utcnow

    pool = haystack.generate(12_700)  # the pool `gum eval --haystack 10000` embeds (cached)
    vecs = haystack.vectors_for(pool, progress=lambda m: print("  " + m, file=sys.stderr))
    rng = random.Random(n)
    nrng = np.random.default_rng(n)
    now = utcnow()
    t0 = time.perf_counter()
    conn = store.db.conn
    conn.execute("BEGIN")
    done = 0
    while done < n:
        chunk = min(50_000, n - done)
        rows, vs = [], []
        for i in range(done, done + chunk):
            d = pool[i % len(pool)]
            rep = i // len(pool)
            text = d.named(user_name) + SUFFIXES[rep % len(SUFFIXES)] + (f" ({rep})" if rep >= len(SUFFIXES) else "")
            age = rng.uniform(0, 365)
            ts = iso(now - timedelta(days=age))
            rows.append((text, "bench", d.confidence, d.decay, ts, ts))
            v = vecs[i % len(pool)]
            if rep:
                v = v + nrng.normal(0, 0.02, v.shape).astype(np.float32)
                v /= np.linalg.norm(v)
            vs.append(v)
        first = conn.execute("SELECT COALESCE(max(id), 0) FROM propositions").fetchone()[0] + 1
        conn.executemany(
            "INSERT INTO propositions (text, reasoning, confidence, decay, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?)", rows)
        vectors.write(store.db, list(range(first, first + chunk)), np.stack(vs))
        done += chunk
    conn.execute("UPDATE propositions SET root_id = id WHERE root_id IS NULL")
    conn.execute("COMMIT")
    return time.perf_counter() - t0


def forget_questions() -> None:
    """Empty the encoder's cache of question vectors, so the next query embeds its question."""
    from gum import embeddings

    enc = embeddings.try_encoder()
    if hasattr(enc, "forget_queries"):  # not in gum before the cache (the bench also times older trees)
        enc.forget_queries()


def bench_search(store, qs: list[str], n_queries: int, profile: bool) -> dict:
    from gum.search import QueryTrace, query

    rng = random.Random(7)
    asked = [rng.choice(qs) for _ in range(n_queries)]
    t = time.perf_counter()
    query(store, asked[0], limit=10)  # loads the vector index and the encoder: reported apart
    first = (time.perf_counter() - t) * 1000
    cpu0 = time.process_time()
    lat, emb, wait, dense, bm25, warm = [], [], [], [], [], []
    for q in asked:
        forget_questions()
        tr = QueryTrace()
        t = time.perf_counter()
        query(store, q, limit=10, trace=tr)
        lat.append((time.perf_counter() - t) * 1000)
        emb.append(tr.timings.get("embed_ms", 0.0))
        wait.append(tr.timings.get("embed_wait_ms", tr.timings.get("embed_ms", 0.0)))
        dense.append(tr.timings.get("dense_search_ms", 0.0) + tr.timings.get("dense_fetch_ms", 0.0))
        bm25.append(tr.timings.get("bm25_ms", 0.0))
    cpu = (time.process_time() - cpu0) / len(asked) * 1000
    for q in asked:
        query(store, q, limit=10)  # its vector is remembered now
        t = time.perf_counter()
        query(store, q, limit=10)
        warm.append((time.perf_counter() - t) * 1000)
    if profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        for q in asked[:50]:
            query(store, q, limit=10)
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
    return {"first_ms": first, "lat": lat, "embed": emb, "wait": wait, "dense": dense, "bm25": bm25, "cpu_ms": cpu, "warm": warm}


def line(name: str, values: list[float]) -> str:
    return f"{name} p50 {statistics.median(values):6.1f} ms, p95 {percentile(values, 0.95):6.1f} ms"


def bench_api(qs: list[str], n_queries: int) -> tuple[list[float], list[float]]:
    """The HTTP API and the MCP tool's logic over the database of GUM_DATA_DIR (filled already)."""
    from gum.agent import Agent
    from gum.api import tokens
    from gum.api.client import Client
    from gum.api.server import ApiServer
    from gum.config import Settings
    from gum.mcp_server import GumTools

    agent = Agent(Settings(observers=[], user_name="Dana"), observers=[], serve_api=False)
    server = ApiServer(agent, port=0, rate_per_minute=0).start()
    try:
        # A fresh name each run: a kept database (--keep) has the tokens of the runs before.
        token, _ = tokens.create_token(agent.store(), f"bench-{time.time_ns()}", ["propositions:read"])
        client = Client(server.url, token)
        tools = GumTools(client)
        rng = random.Random(11)
        asked = [rng.choice(qs) for _ in range(n_queries)]
        client.query(asked[0], limit=10)
        api, mcp = [], []
        for q in asked:
            forget_questions()  # the server runs in this process: its encoder is this one
            t = time.perf_counter()
            client.query(q, limit=10)
            api.append((time.perf_counter() - t) * 1000)
        for q in asked:
            forget_questions()
            t = time.perf_counter()
            tools.get_user_context(q)
            mcp.append((time.perf_counter() - t) * 1000)
        return api, mcp
    finally:
        server.stop()


def bench_api_process(qs: list[str], n_queries: int) -> list[float]:
    """GET /v1/query from this process to `gum start` in its own (GUM_OBSERVERS=none), as an assistant's MCP
    server calls it: no GIL shared between the client and the server. Each question is asked once (the
    agent's cache of question vectors cannot be emptied from here), so all of them are cold."""
    import socket
    import subprocess

    from gum.api import tokens
    from gum.api.client import ApiError, Client
    from gum.store import Store

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = Store(user_name="Dana")
    token, _ = tokens.create_token(store, f"bench-proc-{time.time_ns()}", ["propositions:read"])
    store.close()
    env = dict(os.environ, GUM_OBSERVERS="none", GUM_API_PORT=str(port), GUM_USER_NAME="Dana")
    agent = subprocess.Popen([sys.executable, "-m", "gum.cli", "start"], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        client = Client(f"http://127.0.0.1:{port}", token)
        for _ in range(600):
            try:
                client.health()
                break
            except ApiError:
                time.sleep(0.1)
        client.query("what does she listen to while working?", limit=10)  # loads the index and the encoder
        asked = random.Random(13).sample(qs, min(n_queries, len(qs)))
        lat = []
        for q in asked:
            t = time.perf_counter()
            client.query(q, limit=10)
            lat.append((time.perf_counter() - t) * 1000)
        return lat
    finally:
        agent.terminate()
        agent.wait(30)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--no-api", action="store_true", help="Only gum.search.query.")
    ap.add_argument("--profile", action="store_true", help="Print a cProfile of 50 queries at each size.")
    ap.add_argument("--keep", metavar="DIR", help="Keep each size's database in DIR/<size> and reuse it.")
    args = ap.parse_args()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the gum command sets it (gum/cli.py)
    if args.keep:
        Path(args.keep).mkdir(parents=True, exist_ok=True)
    base = str(Path(args.keep).resolve()) if args.keep else tempfile.mkdtemp(prefix="gum-bench-retrieval-")
    os.environ["GUM_DATA_DIR"] = base
    os.environ.setdefault("GUM_CONFIG_DIR", base + "/config")
    os.environ.setdefault("GUM_KEY_FILE", base + "/key")
    os.environ.setdefault("GUM_KEY_STORE", "file")
    from gum.store import Store

    qs = questions()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, {len(qs)} distinct questions, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(unset)')}")
    for n in [int(x) for x in args.sizes.split(",")]:
        if args.keep:
            os.environ["GUM_DATA_DIR"] = str(Path(args.keep) / str(n))
        else:
            os.environ["GUM_DATA_DIR"] = tempfile.mkdtemp(prefix=f"gum-bench-{n}-", dir=base)
        reuse = args.keep and (Path(os.environ["GUM_DATA_DIR"]) / "gum.db").is_file()
        store = Store(user_name="Dana")
        fill_s = 0.0 if reuse else fill(store, n)
        r = bench_search(store, qs, args.queries, args.profile)
        cpu = r["cpu_ms"]
        print(f"{n:>9,} propositions (filled in {fill_s:.0f} s; first query {r['first_ms']:.0f} ms, loads the index)")
        print("  " + line("gum.search.query cold", r["lat"]) + f"   ({cpu:.1f} ms CPU a query)")
        print("  " + line("gum.search.query warm", r["warm"]) + "   (the question's vector remembered)")
        print("  " + line("  the embedding      ", r["embed"]) + "   (beside BM25, on the encoder's thread)")
        print("  " + line("  waited for it      ", r["wait"]) + "   (what it added to the query)")
        print("  " + line("  dense search+fetch ", r["dense"]))
        print("  " + line("  BM25 (FTS5)        ", r["bm25"]))
        store.close()
        if not args.no_api:
            api, mcp = bench_api(qs, args.queries)
            print("  " + line("GET /v1/query        ", api) + "   (server and client in this process)")
            proc = bench_api_process(qs, args.queries)
            print("  " + line("GET /v1/query        ", proc) + f"   (the agent in its own process; {len(proc)} "
                  "questions, each once)")
            print("  " + line("get_user_context     ", mcp) + "   (a query and a GET per result, as the tool does)")


if __name__ == "__main__":
    main()
