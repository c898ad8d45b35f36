"""Benchmark: a propose call's cost with the JSON grammar asked lazily (gum) and on every token (before).

    OMP_THREAD_LIMIT=1 python tests/bench/bench_sampling.py [--observations 12] [--rounds 2]

The embedded model, loaded once per way in this process, reads the first screen observations of the eval
scenarios with gum's own propose prompt and schema, the two ways alternating call by call (so both see the
same machine); each call's prompt prefix is the same for both, so the KV cache helps both alike. Printed per
way: CPU and wall seconds a call, output tokens, ms of CPU an output token, how many answers parsed, and for
the lazy way how often the grammar rejected the model's token. One thread unless OMP_THREAD_LIMIT says
otherwise (the model's thread count while the user is active).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def observations(n: int) -> list[dict]:
    out = []
    for scenario in sorted((ROOT / "tests/eval/scenarios").iterdir()):
        lines = (scenario / "observations.jsonl").read_text().splitlines()
        screens = [json.loads(line) for line in lines if '"observer": "screen"' in line]
        out += screens[:2]
    return out[:n]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--observations", type=int, default=12)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    from llama_cpp import Llama

    from gum import prompts
    from gum.backends.embedded import embedded_model_path
    from gum.backends.sampling import lazy_grammar_llama
    from gum.engine import PROPOSE_SCHEMA

    path = str(embedded_model_path())
    threads = int(os.environ["OMP_THREAD_LIMIT"])
    kw = dict(model_path=path, n_ctx=2048, n_threads=threads, n_threads_batch=threads, n_batch=256, verbose=False,
              seed=1234)
    ways = {"lazy (gum)": lazy_grammar_llama()(**kw), "every token (before)": Llama(**kw)}
    obs = observations(args.observations)
    system = prompts.render("propose", user="Tom")
    figures = {w: {"cpu": [], "wall": [], "tokens": [], "parsed": 0, "rejected": 0, "checked": 0} for w in ways}
    for _ in range(args.rounds):
        for i, o in enumerate(obs):
            user = prompts.fence("observation", o["text"], source="screen", app=o.get("app", ""),
                                 window=o.get("window", ""), time=o["ts"])
            order = list(ways) if i % 2 == 0 else list(reversed(ways))
            for way in order:
                llm = ways[way]
                c, t = time.process_time(), time.perf_counter()
                out = llm.create_chat_completion(
                    messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
                    response_format={"type": "json_object", "schema": PROPOSE_SCHEMA}, max_tokens=120,
                    temperature=0.2, repeat_penalty=1.15)
                f = figures[way]
                f["cpu"].append(time.process_time() - c)
                f["wall"].append(time.perf_counter() - t)
                f["tokens"].append(out["usage"]["completion_tokens"])
                try:
                    json.loads(out["choices"][0]["message"]["content"])
                    f["parsed"] += 1
                except ValueError:
                    pass
                s = getattr(llm, "last_sampler", None)
                if s is not None:
                    f["checked"] += s.checked
                    f["rejected"] += s.rejected
    n = len(obs) * args.rounds
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, {threads} model thread(s), {n} calls a way, "
          f"{path.rsplit('/', 1)[-1]}")
    base = figures["every token (before)"]
    for way, f in figures.items():
        per_token = 1000 * sum(f["cpu"]) / max(1, sum(f["tokens"]))
        line = (f"  {way:22} CPU {statistics.mean(f['cpu']):5.2f} s a call (p95 {sorted(f['cpu'])[int(0.95 * (n - 1))]:5.2f}), "
                f"wall {statistics.mean(f['wall']):5.2f} s, {statistics.mean(f['tokens']):5.1f} output tokens, "
                f"{per_token:5.1f} ms CPU a token, {f['parsed']}/{n} parsed")
        if f["checked"]:
            line += f", grammar rejected {f['rejected']} of {f['checked']} tokens"
        print(line)
    lazy = figures["lazy (gum)"]
    print(f"  CPU a call, lazy / before: {sum(lazy['cpu']) / sum(base['cpu']):.2f}x; "
          f"CPU a token: {(sum(lazy['cpu']) / sum(lazy['tokens'])) / (sum(base['cpu']) / sum(base['tokens'])):.2f}x")


if __name__ == "__main__":
    main()
