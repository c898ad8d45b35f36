"""Let the kernel page a model file's weights in as they are used, instead of all at load.

llama.cpp maps a GGUF file with MAP_POPULATE, so every page of it counts in the process's resident memory
from the first second, used or not. Some weights are read only a row at a time: the token embeddings
(94 MB of the 491 MB Qwen2.5 0.5B file, 23 MB of MiniLM's) are looked up for the tokens a prompt holds.
Dropping the file's pages from this process once the model is loaded (madvise MADV_DONTNEED on a shared,
read-only file mapping: the pages stay in the page cache and fault back in, unchanged, when touched) leaves
resident what the calls read: measured with the 0.5B model, 387 MB of the file after three calls instead of
484, at the same CPU a call, and the same output.
"""

from __future__ import annotations

import ctypes
import mmap
import os
from pathlib import Path

MADV_DONTNEED = 4


def release(path: str | Path) -> int:
    """Drop this process's resident pages of `path`'s shared read-only mappings; the bytes released.

    Best effort: 0 where there is no /proc/self/maps (not Linux) or madvise fails; never raises.
    """
    target = os.path.realpath(path)
    try:
        with open("/proc/self/maps") as f:
            maps = f.read().splitlines()
        libc = ctypes.CDLL(None, use_errno=True)
        libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    except (OSError, AttributeError):
        return 0
    released = 0
    for line in maps:
        fields = line.split(maxsplit=5)
        # Only mappings that cannot hold changes of ours: read-only and shared ("r--s"); a private writable
        # mapping would lose what was written to it.
        if len(fields) < 6 or fields[5] != target or fields[1] != "r--s":
            continue
        lo, hi = (int(x, 16) for x in fields[0].split("-"))
        size = (hi - lo) // mmap.PAGESIZE * mmap.PAGESIZE
        if size and libc.madvise(lo, size, MADV_DONTNEED) == 0:
            released += size
    return released


def resident_bytes(path: str | Path) -> int:
    """How much of `path` is resident in this process (its mappings' Rss in /proc/self/smaps); 0 off Linux."""
    target = os.path.realpath(path)
    total, inside = 0, False
    try:
        with open("/proc/self/smaps") as f:
            for line in f:
                head = line.split(maxsplit=5)
                if head and "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
                    inside = len(head) == 6 and head[5].strip() == target
                elif inside and line.startswith("Rss:"):
                    total += int(line.split()[1]) * 1024
    except OSError:
        return 0
    return total
