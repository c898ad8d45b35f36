"""What encryption at rest costs: ingest, query and open timings, plaintext SQLite vs SQLCipher, as ratios.

Run: python tests/bench/bench_encryption.py [--n 5000] [--queries 300]
Both databases use the same schema, pragmas (WAL, synchronous=NORMAL) and Store code; only the driver and the
key differ. Works in a temporary folder with its own key file: the real keyring and data are never touched.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

WORDS = [
    "thesis", "zotero", "chapter", "references", "spotify", "playlist", "invoice", "budget", "python",
    "pytest", "refactor", "kernel", "flight", "booking", "hotel", "recipe", "sourdough", "climbing", "gym",
    "calendar", "meeting", "standup", "review", "deploy", "docker", "rust", "garden", "tomato", "bicycle",
    "repair", "podcast", "episode", "mortgage", "tax", "return", "violin", "practice", "chess", "opening",
]


def plaintext_db(path: Path):
    """The database as it was before encryption: stdlib sqlite3, same pragmas and schema."""
    from sqlite_utils import Database

    from gum.migrations import migrations

    conn = sqlite3.connect(str(path), timeout=10, check_same_thread=False)
    conn.isolation_level = None
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")
    db = Database(conn)
    migrations.apply(db)
    return db


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def run(db, n: int, queries: int) -> dict[str, float]:
    from gum.records import Observation, Proposition
    from gum.search import query
    from gum.store import Store

    rng = random.Random(7)
    store = Store(db=db)
    t = time.perf_counter()
    for i in range(n):
        store.add_observation(
            Observation(observer="screen", app=rng.choice(WORDS), window=sentence(rng, 4), text=sentence(rng, 60)),
            merge_within=None,
        )
    obs_s = time.perf_counter() - t
    t = time.perf_counter()
    for i in range(n):
        store.insert_proposition(
            Proposition(text=sentence(rng, 12), reasoning=sentence(rng, 25), confidence=rng.randint(1, 10),
                        decay=rng.randint(1, 10)),
            evidence=[rng.randint(1, n)],
        )
    prop_s = time.perf_counter() - t
    terms = [" ".join(rng.sample(WORDS, 2)) for _ in range(queries)]
    lat = []
    for term in terms:
        t = time.perf_counter()
        query(store, term, limit=10)
        lat.append(time.perf_counter() - t)
    t = time.perf_counter()
    for term in terms[:50]:
        store.db.execute(
            "SELECT count(*) FROM observations_fts WHERE observations_fts MATCH ?", [term.split()[0]]
        ).fetchone()
    obs_fts_s = (time.perf_counter() - t) / 50
    store.close()
    return {
        "observations_per_s": n / obs_s,
        "propositions_per_s": n / prop_s,
        "ingest_s": obs_s + prop_s,
        "query_median_ms": statistics.median(lat) * 1000,
        "query_p95_ms": sorted(lat)[int(len(lat) * 0.95) - 1] * 1000,
        "obs_fts_count_ms": obs_fts_s * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="observations and propositions each")
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ.update({
            "GUM_DATA_DIR": str(tmp / "data"), "GUM_CONFIG_DIR": str(tmp / "config"),
            "GUM_KEY_STORE": "file", "GUM_KEY_FILE": str(tmp / "keys" / "master.key"),
        })
        from gum.db import open_db

        (tmp / "plain").mkdir()
        print(f"{args.n} observations + {args.n} propositions, {args.queries} queries (gum.search.query)")
        plain = run(plaintext_db(tmp / "plain" / "gum.db"), args.n, args.queries)
        enc = run(open_db(), args.n, args.queries)

        opens = {}
        for name, opener in (("plain", lambda: plaintext_db(tmp / "plain" / "gum.db")), ("sqlcipher", open_db)):
            times = []
            for _ in range(20):
                t = time.perf_counter()
                db = opener()
                db.execute("SELECT count(*) FROM propositions").fetchone()
                times.append(time.perf_counter() - t)
                db.conn.close()
            opens[name] = statistics.median(times) * 1000
        sizes = {
            "plain": (tmp / "plain" / "gum.db").stat().st_size / 2**20,
            "sqlcipher": (tmp / "data" / "gum.db").stat().st_size / 2**20,
        }

        from gum import crypto

        blob = os.urandom(300 * 1024)  # about one kept PNG screenshot
        t = time.perf_counter()
        for i in range(100):
            crypto.write_private(tmp / "shots" / f"{i}.png.enc", blob)
        write_ms = (time.perf_counter() - t) * 10
        t = time.perf_counter()
        for i in range(100):
            crypto.read_private(tmp / "shots" / f"{i}.png.enc")
        read_ms = (time.perf_counter() - t) * 10

    print(f"{'':24}{'plaintext':>12}{'sqlcipher':>12}{'ratio':>8}")
    for key, label in (
        ("observations_per_s", "observations/s"),
        ("propositions_per_s", "propositions/s"),
        ("ingest_s", "ingest total s"),
        ("query_median_ms", "query median ms"),
        ("query_p95_ms", "query p95 ms"),
        ("obs_fts_count_ms", "obs FTS count ms"),
    ):
        ratio = enc[key] / plain[key]
        print(f"{label:24}{plain[key]:12.2f}{enc[key]:12.2f}{ratio:8.2f}")
    print(f"{'open (median of 20) ms':24}{opens['plain']:12.2f}{opens['sqlcipher']:12.2f}"
          f"{opens['sqlcipher'] / opens['plain']:8.2f}")
    print(f"{'file size MiB':24}{sizes['plain']:12.2f}{sizes['sqlcipher']:12.2f}"
          f"{sizes['sqlcipher'] / sizes['plain']:8.2f}")
    print(f"AES-GCM screenshot files (300 KiB): write_private {write_ms:.2f} ms, read_private {read_ms:.2f} ms each")
    print("ratio = sqlcipher / plaintext (for rates below 1 means slower, for times above 1 means slower)")


if __name__ == "__main__":
    sys.exit(main())
