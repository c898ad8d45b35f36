"""Where the agent's memory goes: the embedded model alone, in a fresh process per llama.cpp setting, loaded and
then given the same three propose-sized calls (the real prompt and schema, a shared scenario's text). Prints
the RSS after load and after the calls, the peak (VmHWM: the load itself reads the whole file in, before gum
releases it, gum/backends/resident.py), and the CPU of the calls, for each setting.

    python3 tests/bench/bench_model_memory.py            # n_ctx / n_batch / flash attention variants

Issue 11 wants the agent under 800 MB with the embedded model: this says how much of that the model takes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEXT = ROOT / "tests" / "eval" / "scenarios" / "teacher-field-trip-calendar-browser" / "observations.jsonl"

CHILD = r'''
import json, sys, time
from llama_cpp import Llama
from gum import prompts
from gum.backends.embedded import embedded_model_path
from gum.engine import PROPOSE_SCHEMA

def status_mb(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) / 1024

def peak_mb():
    return status_mb("VmHWM")

kw, text = json.loads(sys.argv[1]), open(sys.argv[2], encoding="utf-8").read()
release = kw.pop("release", False)
llm = Llama(model_path=str(embedded_model_path()), n_threads=2, n_threads_batch=2, verbose=False, seed=1234, **kw)
if release:
    from gum.backends import resident
    resident.release(embedded_model_path())
loaded = status_mb("VmRSS")
system = prompts.render("propose", user="Aisha")
start = time.process_time()
for i in (0, 1400, 2800):
    llm.create_chat_completion(
        messages=[{"role": "system", "content": system}, {"role": "user", "content": text[i:i + 1400]}],
        response_format={"type": "json_object", "schema": PROPOSE_SCHEMA}, max_tokens=120, temperature=0.2)
print(json.dumps({"setting": {**kw, **({"release": True} if release else {})}, "after_load_mb": round(loaded),
                  "after_calls_mb": round(status_mb("VmRSS")), "peak_mb": round(peak_mb()),
                  "cpu_s_3_calls": round(time.process_time() - start, 1)}))
'''

SETTINGS = [
    {"n_ctx": 2048, "n_batch": 64, "release": True},  # gum's setting (gum/backends/llama.py, resident.py)
    {"n_ctx": 2048, "n_batch": 64},
    {"n_ctx": 2048, "n_batch": 256},  # gum's setting before 9d3eb83
    {"n_ctx": 2048, "n_batch": 256, "flash_attn": True},
    {"n_ctx": 2048, "n_batch": 128},
    {"n_ctx": 2048, "n_batch": 128, "flash_attn": True},
    {"n_ctx": 1536, "n_batch": 128, "flash_attn": True},
]


def main() -> None:
    print(f"embedded model, one fresh process per setting, text from {TEXT}")
    for setting in SETTINGS:
        out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(setting), str(TEXT)], capture_output=True,
                             text=True, cwd=ROOT, env={**os.environ, "OMP_THREAD_LIMIT": "1"}, check=False)
        row = json.loads(out.stdout) if out.returncode == 0 else {"setting": setting, "error": out.stderr[-300:]}
        if "error" in row:
            print(f"  {setting}: failed: {row['error']}")
            continue
        print(f"  {json.dumps(setting):<55} after load {row['after_load_mb']:>4} MB   after the calls "
              f"{row['after_calls_mb']:>4} MB   peak {row['peak_mb']:>4} MB   3 calls {row['cpu_s_3_calls']:>5} CPU-s")


if __name__ == "__main__":
    main()
