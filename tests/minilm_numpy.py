"""The reference all-MiniLM-L6-v2: the numpy forward pass gum ran before llama.cpp (gum/embeddings.py).

Kept only to prove that the llama.cpp encoder gives the same vectors (tests/test_embeddings_gguf.py,
tests/bench/bench_embeddings.py): the Hugging Face `tokenizers` WordPiece tokenizer, BERT's layers as
numpy products, mean pooling and L2 normalisation, as sentence-transformers computes them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def _erf(x):
    # Abramowitz & Stegun 7.1.26 (error < 1.5e-7): BERT's GELU is the exact, erf-based one and numpy has no erf.
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t \
        * np.exp(-a * a)
    return sign * y


def _layer_norm(x, w, b, eps=1e-12):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


class NumpyEncoder:
    """all-MiniLM-L6-v2 in numpy: texts in, L2-normalised float32 vectors (mean pooling)."""

    def __init__(self, folder: Path, max_tokens: int = 128):
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        cfg = json.loads((folder / "config.json").read_text())
        self.dim = cfg["hidden_size"]
        self.heads = cfg["num_attention_heads"]
        self.eps = cfg.get("layer_norm_eps", 1e-12)
        w = load_file(str(folder / "model.safetensors"))
        w = {k.removeprefix("bert."): v.astype(np.float32) for k, v in w.items()}
        self.word = w["embeddings.word_embeddings.weight"]
        self.pos = w["embeddings.position_embeddings.weight"]
        self.type0 = w["embeddings.token_type_embeddings.weight"][0]
        self.emb_ln = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self.blocks = []
        for i in range(cfg["num_hidden_layers"]):
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
        self.tokenizer.enable_truncation(max_length=max_tokens)
        self.tokenizer.no_padding()

    def token_ids(self, text: str) -> list[int]:
        """The word pieces of `text`, framed by [CLS] and [SEP] and cut at max_tokens."""
        return self.tokenizer.encode(text or " ").ids

    def encode(self, texts: list[str], batch_size: int = 32):
        """One row per text, L2-normalised; texts of similar length are batched together to save padding."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
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
        b, n = ids.shape
        d = self.dim
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


def sample_texts() -> list[str]:
    """What the equivalence is checked on: 300 haystack propositions, the eval's questions and facts, and
    texts that test the tokenizer (accents, CJK, emoji, a URL, special tokens written out, 160+ pieces)."""
    from gum import haystack

    root = Path(__file__).resolve().parent
    props = [d.named("the user") for d in haystack.generate(300)]
    questions, facts = [], []
    for f in sorted((root / "eval" / "scenarios").glob("*/scenario.json")):
        for fact in json.loads(f.read_text())["facts"]:
            facts.append(fact["text"])
            questions += [fact["question"]] if fact.get("question") else []
    shared = json.loads((root / "eval" / "questions-shared.json").read_text())
    questions += [q for name, qs in shared.items() if not name.startswith("_") for q in qs.values()]
    edge = ["", "   leading and trailing   ", "café résumé naïve Zürich", "İstanbul straße ﬁne Ångström",
            "C++/C# devs @ 3:30pm — ok?", "日本語のテキスト and emoji 🎉", "ALL CAPS SHOUTING ABOUT TAXES",
            "Visited https://example.com/path?q=1&x=2 at 09:45", "a literal [SEP] and [MASK] in text",
            " ".join(["The user reviewed the quarterly budget spreadsheet and the supplier invoices"] * 15)]
    return list(dict.fromkeys(props + questions + facts + edge))
