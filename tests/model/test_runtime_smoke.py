"""Smoke test of the contract: load the tiny bundle and call every runtime entry point."""
from __future__ import annotations

import numpy as np

from model.runtime import GenerationConfig, Runtime


def test_runtime_contract(tiny_bundle):
    rt = Runtime.load(tiny_bundle, threads=1)
    assert rt.has_embedding and rt.has_matching and rt.has_decoder
    assert rt.precision == "int8"
    emb = rt.embed(["def f(): pass", "hello world", ""])
    assert emb.shape == (3, rt.config.embed_dim) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    gen = rt.complete("def add(a, b):\n    ", "\n\nprint(add(1, 2))", GenerationConfig(max_new_tokens=5))
    assert len(gen.token_ids) <= 5 and isinstance(gen.text, str)
    assert rt.summarize("def add(a, b): return a + b", GenerationConfig(max_new_tokens=4)).stop_reason
    assert rt.text_to_code("add two numbers", GenerationConfig(max_new_tokens=4)).latency_ms > 0
    scores = rt.match_scores("add numbers", ["def add(a, b): return a + b", "x = 1"])
    assert scores.shape == (2,) and np.all((scores >= 0) & (scores <= 1))
