"""JSON-schema constrained sampling that asks the grammar only when it must.

llama-cpp-python puts the grammar in the sampler chain, so every output token runs the grammar over the
whole vocabulary (152k tokens for Qwen2.5) before top-k: on the embedded 0.5B model, one thread, ~30 ms of
CPU a token on top of the model's own ~115 ms (tests/bench/bench_sampling.py). llama.cpp's own tools
(common/sampling.cpp) sample first and ask the grammar about the one token chosen; only when the grammar
rejects it do they constrain the whole vocabulary and sample again. That draws from the same constrained
distribution (a token the grammar allows is kept with its own probability; the rejected mass is
redistributed over the allowed ones, as constraining first would), at the cost of one grammar check a token.
"""

from __future__ import annotations

import ctypes

import numpy as np


class LazyGrammarSampler:
    """Stands in for llama-cpp-python's sampler chain (`.sample(ctx, idx)`), with the grammar kept apart."""

    def __init__(self, llm, chain, grammar):
        import llama_cpp

        self._lib = llama_cpp
        self.chain = chain  # llama-cpp-python's LlamaSampler: penalties, top-k ... dist, without the grammar
        self.grammar = llama_cpp.llama_sampler_init_grammar(
            llm._model.vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8"))
        if not self.grammar:
            raise ValueError("llama.cpp could not parse the grammar")
        self.n_vocab = llm.n_vocab()
        self._data = (llama_cpp.llama_token_data * self.n_vocab)()
        self._view = np.ctypeslib.as_array(self._data)
        self._ids = np.arange(self.n_vocab, dtype=np.int32)
        self._one = (llama_cpp.llama_token_data * 1)()
        self.checked = 0  # tokens sampled
        self.rejected = 0  # of them, rejected by the grammar and sampled again under it

    def _candidates(self, logits: np.ndarray):
        v = self._view
        v["id"] = self._ids
        v["logit"] = logits
        v["p"] = 0.0
        return self._lib.llama_token_data_array(
            data=ctypes.cast(self._data, ctypes.POINTER(self._lib.llama_token_data)),
            size=self.n_vocab, selected=-1, sorted=False)

    def _allowed(self, token: int) -> bool:
        one = self._one
        one[0].id, one[0].logit, one[0].p = token, 0.0, 0.0
        arr = self._lib.llama_token_data_array(
            data=ctypes.cast(one, ctypes.POINTER(self._lib.llama_token_data)), size=1, selected=-1, sorted=False)
        self._lib.llama_sampler_apply(self.grammar, ctypes.byref(arr))
        return bool(np.isfinite(one[0].logit))

    def sample(self, ctx, idx: int = -1) -> int:
        lib = self._lib
        logits = np.ctypeslib.as_array(lib.llama_get_logits_ith(ctx.ctx, idx), shape=(self.n_vocab,))
        arr = self._candidates(logits)
        lib.llama_sampler_apply(self.chain.sampler, ctypes.byref(arr))
        token = int(arr.data[arr.selected].id)
        self.checked += 1
        if not self._allowed(token):
            self.rejected += 1
            arr = self._candidates(logits)
            lib.llama_sampler_apply(self.grammar, ctypes.byref(arr))
            lib.llama_sampler_apply(self.chain.sampler, ctypes.byref(arr))
            token = int(arr.data[arr.selected].id)
        lib.llama_sampler_accept(self.grammar, token)
        lib.llama_sampler_accept(self.chain.sampler, token)
        return token

    def close(self) -> None:
        if self.grammar:
            self._lib.llama_sampler_free(self.grammar)
            self.grammar = None

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - at interpreter exit llama_cpp may be gone
            pass


def lazy_grammar_llama():
    """llama_cpp.Llama with the grammar checked lazily (the class, built on first use: no import at load)."""
    from llama_cpp import Llama

    class LazyGrammarLlama(Llama):
        last_sampler: LazyGrammarSampler | None = None

        def _init_sampler(self, *args, grammar=None, **kwargs):
            chain = super()._init_sampler(*args, grammar=None, **kwargs)
            if grammar is None:
                return chain
            self.last_sampler = LazyGrammarSampler(self, chain, grammar)
            return self.last_sampler

    return LazyGrammarLlama
