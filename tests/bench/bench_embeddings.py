"""Embedding benchmark: gum's llama.cpp encoder against the numpy forward pass it replaced, in one run.

    python tests/bench/bench_embeddings.py [--batch 512] [--q8] [--json FILE]

Both ways run interleaved text by text (the machine is shared and noisy: compare the ratios), on one thread
each (OPENBLAS_NUM_THREADS=1 for numpy, n_threads=1 for llama.cpp):
  - one new text at a time, as a query embeds its question and the store its new proposition: the eval's
    distinct questions and 300 haystack propositions, each embedded once per way (nothing remembered),
    wall-clock and CPU p50/p95;
  - a batch of haystack propositions (`--batch`), as a backfill or `gum eval --haystack` embeds them;
  - the memory each way adds, each in a fresh process: RSS after loading and one call, over the RSS of the
    same process before (numpy and gum imported), and its peak; for llama.cpp also with llama_cpp already
    imported, as in the agent, whose language model loads it anyway;
  - how close the vectors are (cosine, numpy's against llama.cpp's) on the texts embedded, and on the
    few hundred texts of tests/test_embeddings_gguf.py, with the texts whose word pieces differ.
  - one question on one thread and on two (why questions are embedded on one);
`--q8` adds a Q8_0 GGUF (written to a temporary folder) as a third way, to show why gum ships F16.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "bench"))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the gum command sets it (gum/cli.py)

from bench_retrieval import percentile, questions
from minilm_numpy import sample_texts


def _rss_mb(field: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_child(way: str, gguf: str) -> None:
    """In a fresh process: the RSS one way adds after loading and one call (printed as JSON)."""
    import numpy  # noqa: F401 - both ways have it

    from gum import embeddings

    if way.endswith("+preloaded"):
        import llama_cpp  # noqa: F401 - the agent's language model has loaded it already
    base, text = _rss_mb(), "Which accounting software does the user use?"
    if way == "numpy":
        from minilm_numpy import NumpyEncoder

        enc = NumpyEncoder(embeddings.model_dir())
    else:
        enc = embeddings.Encoder(Path(gguf))
    enc.encode([text])  # measured while `enc` is alive
    print(json.dumps({"added": _rss_mb() - base, "peak": _rss_mb("VmHWM") - base}))


def rss(way: str, gguf: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--rss-child", way, str(gguf)], capture_output=True,
                         text=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return json.loads(out.stdout.strip().splitlines()[-1])


def timed(fn, arg) -> tuple[float, float, object]:
    c, t = time.thread_time(), time.perf_counter()
    out = fn(arg)
    return (time.perf_counter() - t) * 1000, (time.thread_time() - c) * 1000, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=512, help="Propositions in the batch-throughput test.")
    ap.add_argument("--q8", action="store_true", help="Also time a Q8_0 GGUF (written to a temporary folder).")
    ap.add_argument("--json", metavar="FILE", help="Append the figures to FILE as one JSON line.")
    ap.add_argument("--rss-child", nargs=2, metavar=("WAY", "GGUF"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.rss_child:
        return rss_child(*args.rss_child)

    import numpy as np
    from minilm_numpy import NumpyEncoder

    from gum import embeddings, haystack
    from gum.bert_gguf import convert

    ggufs = {"llama.cpp f16": embeddings.gguf_path()}
    if args.q8:
        ggufs["llama.cpp q8_0"] = convert(embeddings.model_dir(), Path(tempfile.mkdtemp()) / "minilm-q8_0.gguf",
                                          weights="q8_0")
    ref = NumpyEncoder(embeddings.model_dir())
    encoders = {k: embeddings.Encoder(p) for k, p in ggufs.items()}
    ways = {"numpy": ref.encode} | {k: e.encode for k, e in encoders.items()}
    pool = haystack.generate(max(args.batch, 300))
    sets = {"question": list(dict.fromkeys(questions())),
            "proposition": [d.named("the user") for d in pool[:300]]}
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, one thread each, "
          f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}; vectors of {embeddings.MINILM.key}")
    for fn in ways.values():
        fn(["warm up"])
    report: dict = {"ways": list(ways)}
    for kind, texts in sets.items():
        wall = {k: [] for k in ways}
        cpu = {k: [] for k in ways}
        vecs = {k: [] for k in ways}
        for i, text in enumerate(texts):
            order = list(ways) if i % 2 == 0 else list(reversed(ways))  # neither way always goes first
            for k in order:
                w, c, v = timed(ways[k], [text])
                wall[k].append(w)
                cpu[k].append(c)
                vecs[k].append(v[0])
        print(f"\none {kind} at a time ({len(texts)} distinct, each embedded once per way):")
        for k in ways:
            cos = (np.array(vecs[k]) * np.array(vecs["numpy"])).sum(1)
            print(f"  {k:15s} wall p50 {statistics.median(wall[k]):5.1f} ms, p95 {percentile(wall[k], 0.95):5.1f} ms;"
                  f"  CPU p50 {statistics.median(cpu[k]):5.1f} ms, p95 {percentile(cpu[k], 0.95):5.1f} ms"
                  + ("" if k == "numpy" else f";  cosine to numpy mean {cos.mean():.6f}, min {cos.min():.6f}"))
            report[f"{kind}/{k}"] = {"wall_p50": statistics.median(wall[k]), "wall_p95": percentile(wall[k], 0.95),
                                     "cpu_p50": statistics.median(cpu[k]), "cpu_p95": percentile(cpu[k], 0.95),
                                     "cos_mean": float(cos.mean()), "cos_min": float(cos.min())}
        for k in list(ways)[1:]:
            print(f"  numpy / {k}: wall p50 {statistics.median(wall['numpy']) / statistics.median(wall[k]):.2f}x, "
                  f"p95 {percentile(wall['numpy'], 0.95) / percentile(wall[k], 0.95):.2f}x; "
                  f"CPU p50 {statistics.median(cpu['numpy']) / statistics.median(cpu[k]):.2f}x")

    # A question on one thread against two, interleaved: why gum embeds its questions on one (the median
    # is lower on two, the tail is not: a barrier waits for whichever thread the machine paused).
    enc = encoders["llama.cpp f16"]
    lat: dict[int, list[float]] = {1: [], 2: []}
    for rep in range(3):
        for i, text in enumerate(sets["question"]):
            for th in ((1, 2) if (i + rep) % 2 == 0 else (2, 1)):
                lat[th].append(timed(lambda t, th=th: enc.encode(t, threads=th), [text])[0])
    print(f"\none question on one thread and on two (llama.cpp f16, {len(lat[1])} each, interleaved):")
    for th, xs in lat.items():
        report[f"question_threads/{th}"] = {"wall_p50": statistics.median(xs), "wall_p95": percentile(xs, 0.95),
                                           "wall_p99": percentile(xs, 0.99)}
        print(f"  {th} thread{'s' if th > 1 else ' '} wall p50 {statistics.median(xs):5.1f} ms, "
              f"p95 {percentile(xs, 0.95):5.1f} ms, p99 {percentile(xs, 0.99):5.1f} ms")

    texts = sample_texts()
    want = ref.encode(texts)
    print(f"\nthe {len(texts)} texts of tests/test_embeddings_gguf.py, against numpy:")
    for k, e in encoders.items():
        cos = (e.encode(texts) * want).sum(1)
        differ = [t for t in texts if e.token_ids(t) != ref.token_ids(t)]
        report[f"equivalence/{k}"] = {"n": len(texts), "cos_mean": float(cos.mean()), "cos_min": float(cos.min()),
                                      "token_differences": len(differ)}
        print(f"  {k:15s} cosine mean {cos.mean():.7f}, min {cos.min():.7f}; word pieces differ on {len(differ)}"
              + (f": {[t[:30] for t in differ[:5]]}" if differ else ""))

    batch = [d.named("the user") for d in pool[:args.batch]]
    runs = {k: [] for k in ways}
    for rep in range(3):
        for k in (list(ways) if rep % 2 == 0 else list(reversed(ways))):
            runs[k].append(timed(ways[k], batch)[1] / 1000)
    print(f"\na batch of {len(batch)} propositions (CPU, median of 3, interleaved):")
    for k in ways:
        rate = len(batch) / statistics.median(runs[k])
        report[f"batch/{k}"] = rate
        print(f"  {k:15s} {rate:6.0f} texts/s" + ("" if k == "numpy" else
              f"   ({rate / report['batch/numpy']:.2f}x numpy's)"))

    print("\nmemory added (fresh process each: after loading and one call; peak in brackets):")
    for k in ways:
        variants = [k] if k == "numpy" else [k, k + "+preloaded"]
        for v in variants:
            r = rss(v.replace("llama.cpp f16", "f16").replace("llama.cpp q8_0", "q8"),
                    ggufs.get(k, Path("-")))
            report[f"rss/{v}"] = r
            note = "  (llama_cpp imported already, as in the agent)" if v.endswith("+preloaded") else ""
            print(f"  {v:27s} +{r['added']:4.0f} MB  (peak +{r['peak']:4.0f} MB){note}")
    if args.json:
        with open(args.json, "a") as f:
            f.write(json.dumps(report) + "\n")


if __name__ == "__main__":
    main()
