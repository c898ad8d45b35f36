"""llama-cpp-python in-process: one model loaded once, JSON-schema constrained output."""

from __future__ import annotations

import atexit
import os
import threading
import time
from pathlib import Path

from ..errors import ModelError
from ..records import Usage
from . import resident

# One loaded model per file for the whole process: loading costs seconds and hundreds of MB.
_LOADED: dict[tuple, object] = {}
_LOAD_LOCK = threading.Lock()
# Calls in progress, in any thread: while one runs, the cores are the model's (gum/embeddings.py asks).
_running = 0
_running_lock = threading.Lock()


def running() -> bool:
    """Whether a model call is in progress in this process."""
    return _running > 0


def _close_all() -> None:
    # Free models before the interpreter tears down llama_cpp's module globals: left to Llama.__del__ at
    # exit, freeing fails noisily ("'NoneType' object is not callable").
    while _LOADED:
        _, llm = _LOADED.popitem()
        try:
            llm.close()
        except Exception:  # noqa: BLE001 - exiting anyway
            pass


class _counted:
    def __enter__(self):
        global _running
        with _running_lock:
            _running += 1

    def __exit__(self, *exc):
        global _running
        with _running_lock:
            _running -= 1


class LlamaCppModel:
    """A GGUF model run by llama.cpp in this process."""

    def __init__(self, path: str | Path, *, n_ctx: int = 4096, threads: int = 0, name: str | None = None):
        self.path = Path(path).expanduser()
        self.n_ctx = n_ctx
        self.threads = threads or os.cpu_count() or 2
        self.name = name or self.path.name
        self._lock = threading.Lock()  # llama.cpp contexts are not safe to share between threads
        self._run_threads = self.threads  # what the next call runs on (set_threads), without reloading

    def set_threads(self, n: int) -> None:
        """Run the next calls on `n` threads (0: all cores); the loaded model stays loaded."""
        self._run_threads = max(1, min(n or os.cpu_count() or 2, self.threads))

    @property
    def llm(self):
        key = (str(self.path), self.n_ctx, self.threads)
        with _LOAD_LOCK:
            if key not in _LOADED:
                if not self.path.exists():
                    raise ModelError(f"model file {self.path} does not exist")
                try:
                    from .sampling import lazy_grammar_llama

                    Llama = lazy_grammar_llama()
                except ImportError as exc:
                    raise ModelError(
                        "llama-cpp-python is not installed: run packaging/install.sh (it builds the portable "
                        "version), or point GUM_MODEL at a server URL"
                    ) from exc
                if not _LOADED:
                    atexit.register(_close_all)
                try:
                    _LOADED[key] = Llama(
                        model_path=str(self.path),
                        n_ctx=self.n_ctx,
                        n_threads=self.threads,
                        n_threads_batch=self.threads,
                        # The prompts are short: 64 tokens a batch cost no more CPU than 256 (measured, 0.5B
                        # model, 800-token prompts) and hold ~20 MB less of compute buffers.
                        n_batch=min(64, self.n_ctx),
                        verbose=False,
                        seed=1234,
                    )
                except Exception as exc:  # llama.cpp raises ValueError for unreadable files
                    raise ModelError(f"cannot load {self.path}: {exc}") from exc
                resident.release(self.path)  # pages back in as calls read them (see resident.py)
            return _LOADED[key]

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def complete_json(
        self, system: str, user: str, schema: dict, *, max_tokens: int = 256, temperature: float = 0.2
    ) -> tuple[str, Usage]:
        llm = self.llm
        # Keep the prompt inside the context: the fixed system part first (byte-identical between calls, so
        # llama.cpp reuses its KV cache), the observation last, cut from its end if it is too long.
        budget = self.n_ctx - max_tokens - self.count_tokens(system) - 32
        if budget < 64:
            raise ModelError(f"n_ctx={self.n_ctx} is too small for this prompt; raise GUM_N_CTX")
        tokens = llm.tokenize(user.encode("utf-8"), add_bos=False, special=False)
        if len(tokens) > budget:
            user = llm.detokenize(tokens[:budget]).decode("utf-8", "ignore") + "\n[...cut...]"
        start = time.perf_counter()
        with self._lock, _counted():
            # On one thread llama.cpp computes in this thread: its CPU time is the call's, whatever the
            # observers do meanwhile. On several, its worker threads count too: the whole process's.
            clock = time.thread_time if self._run_threads == 1 else time.process_time
            cpu0 = clock()
            try:
                ctx = getattr(llm, "_ctx", None)
                if ctx is not None and hasattr(ctx, "set_n_threads"):
                    ctx.set_n_threads(self._run_threads, self._run_threads)
                out = llm.create_chat_completion(
                    messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
                    response_format={"type": "json_object", "schema": schema},
                    max_tokens=max_tokens,
                    temperature=temperature,
                    repeat_penalty=1.15,
                )
            except Exception as exc:
                raise ModelError(f"llama.cpp failed: {exc}") from exc
            cpu = clock() - cpu0
        usage = out.get("usage") or {}
        return out["choices"][0]["message"]["content"] or "", Usage(
            prompt_tokens=usage.get("prompt_tokens", 0),
            completion_tokens=usage.get("completion_tokens", 0),
            seconds=time.perf_counter() - start,
            cpu_seconds=cpu,
        )
