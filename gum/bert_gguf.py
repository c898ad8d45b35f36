"""Write a sentence-transformers BERT (safetensors + tokenizer.json) as a GGUF file llama.cpp runs.

What llama.cpp's own converter (convert_hf_to_gguf.py, class BertModel) writes for a BERT, without torch or
transformers: the tensors renamed by gguf-py's table for the "bert" architecture, 2-D weights in F16 (or
Q8_0), 1-D ones, norms and the position and token-type embeddings in F32; the hyper-parameters from
config.json; the WordPiece vocabulary in the "phantom space" form llama.cpp's WPM tokenizer reads (a word's
first piece gets a leading U+2581, a '##' continuation loses its '##'); mean pooling, non-causal attention.

The output depends only on the inputs (no time, no path in it): the same files convert to the same bytes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def convert(folder: Path, out: Path, *, weights: str = "f16") -> Path:
    """Write `folder`'s model.safetensors, config.json and tokenizer.json as the GGUF `out` (atomically)."""
    import gguf
    import numpy as np
    from safetensors.numpy import load_file

    cfg = json.loads((folder / "config.json").read_text())
    tok = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    if cfg.get("model_type") != "bert" or tok["model"]["type"] != "WordPiece":
        raise ValueError(f"{folder} does not hold a BERT with a WordPiece tokenizer")
    qtype = {"f16": gguf.GGMLQuantizationType.F16, "q8_0": gguf.GGMLQuantizationType.Q8_0}[weights]
    ftype = {"f16": gguf.LlamaFileType.MOSTLY_F16, "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}[weights]

    tmp = out.with_name(out.name + ".partial")
    w = gguf.GGUFWriter(str(tmp), gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.BERT])
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_head_count(cfg["num_attention_heads"])
    w.add_layer_norm_eps(cfg.get("layer_norm_eps", 1e-12))
    w.add_causal_attention(False)
    w.add_pooling_type(gguf.PoolingType.MEAN)  # as sentence-transformers pools all-MiniLM-L6-v2
    w.add_file_type(ftype)

    _add_vocab(w, folder, tok, cfg, gguf)

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, cfg["num_hidden_layers"])
    always_f32 = {gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.POS_EMBD], gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.TOKEN_TYPES]}
    tensors = load_file(str(folder / "model.safetensors"))
    for name in sorted(tensors):  # a fixed order: the same input gives the same file
        short = name.removeprefix("bert.")
        # Not used for embeddings: the pooler (sentence-transformers pools the tokens itself), the MLM head.
        if short in ("embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias") or short.startswith("cls."):
            continue
        new = names.get_name(short, try_suffixes=(".weight", ".bias"))
        if new is None:
            raise ValueError(f"no GGUF name for the tensor {name}")
        data = tensors[name].astype(np.float32)
        if data.ndim >= 2 and new.endswith(".weight") and new not in {n + ".weight" for n in always_f32}:
            if qtype == gguf.GGMLQuantizationType.F16:
                w.add_tensor(new, data.astype(np.float16))
            else:
                w.add_tensor(new, gguf.quants.quantize(data, qtype), raw_dtype=qtype)
        else:
            w.add_tensor(new, data)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    os.replace(tmp, out)
    return out


def _add_vocab(w, folder: Path, tok: dict, cfg: dict, gguf) -> None:
    """The WordPiece vocabulary as llama.cpp's "bert" tokenizer model reads it, and the special tokens."""
    vocab = tok["model"]["vocab"]  # token -> id
    by_id = {i: t for t, i in vocab.items()}
    special = {a["id"]: a for a in tok.get("added_tokens", [])}
    n = max(cfg.get("vocab_size", 0), max(by_id) + 1)
    tokens, types = [], []
    for i in range(n):
        t = by_id.get(i)
        if t is None:  # a hole in the ids: a placeholder, as the converter writes
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.USER_DEFINED)
        elif i in special and special[i].get("special", False):
            tokens.append(t)
            types.append(gguf.TokenType.CONTROL)
        else:
            tokens.append(t[2:] if t.startswith("##") else "\u2581" + t)
            types.append(gguf.TokenType.USER_DEFINED if i in special else gguf.TokenType.NORMAL)
    w.add_tokenizer_model("bert")
    w.add_tokenizer_pre("default")  # llama.cpp reads a pre-tokenizer for BPE vocabularies only
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_type_count(cfg.get("type_vocab_size", 1))
    # [CLS], [SEP], [UNK], [PAD], [MASK] and whether [CLS]/[SEP] frame a text, read by gguf-py as the
    # converter reads them (tokenizer_config.json names them, tokenizer.json's post-processor frames).
    # GGUF has no key for [CLS] (llama.cpp starts a text with the "bos" token, [CLS] here): not asked for.
    kinds = ("bos", "eos", "unk", "sep", "pad", "mask")
    gguf.SpecialVocab(folder, n_vocab=len(tokens), special_token_types=kinds).add_to_gguf(w, quiet=True)
