"""A loaded model keeps resident only the weights its calls read (gum/backends/resident.py)."""

import json
import mmap
import os
import subprocess
import sys

import pytest

from gum.backends import resident

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/smaps"), reason="reads Linux's /proc")


def test_released_pages_of_a_mapped_file_leave_memory_and_read_back_unchanged(tmp_path):
    data = os.urandom(4 * 1024 * 1024)
    path = tmp_path / "weights.bin"
    path.write_bytes(data)
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        assert m[:] == data  # every page touched
        assert resident.resident_bytes(path) >= len(data) - mmap.PAGESIZE
        assert resident.release(path) >= len(data) - mmap.PAGESIZE
        assert resident.resident_bytes(path) < len(data) // 8
        assert m[:] == data, "the pages come back from the file as they were"


def test_a_private_writable_mapping_is_left_alone(tmp_path):
    path = tmp_path / "scratch.bin"
    path.write_bytes(b"\0" * mmap.PAGESIZE * 4)
    with open(path, "r+b") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY) as m:
        m[:5] = b"hello"
        assert resident.release(path) == 0
        assert m[:5] == b"hello"


# In a process of its own: another test's model maps the same file, and its pages would count here.
SESSION = r"""
import json, sys
from gum.backends import resident
from gum.backends.embedded import embedded_model_path
from gum.backends.llama import LlamaCppModel
from gum.engine import PROPOSE_SCHEMA
path = embedded_model_path()
model = LlamaCppModel(path, n_ctx=2048, threads=1)
model.llm
loaded = resident.resident_bytes(path)
text, _ = model.complete_json(
    "You note facts about Tom from his screen. Answer with JSON only.",
    "<observation>Canva | Spring Fair Flyer (Letter)\nMAPLEWOOD ELEMENTARY SPRING FAIR</observation>",
    PROPOSE_SCHEMA, max_tokens=60)
print(json.dumps({"size": path.stat().st_size, "loaded": loaded, "called": resident.resident_bytes(path),
                  "facts": len(json.loads(text)["facts"])}))
"""


def test_the_embedded_model_holds_only_what_its_calls_read():
    out = subprocess.run([sys.executable, "-c", SESSION], capture_output=True, text=True, timeout=300, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["facts"] >= 1
    assert r["loaded"] < r["size"] * 0.2, "MAP_POPULATE's pages are released after the load"
    # The layers and the output matrix are read at every token; the token embeddings only the prompt's rows.
    assert r["size"] * 0.5 < r["called"] < r["size"] * 0.9
