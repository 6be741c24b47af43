"""Validation during smol training: left-padded batched summaries decode as each row alone."""
from __future__ import annotations

from pathlib import Path

import torch

from model.smol.model_dir import load_smol_dir
from training.smol.validate import generate_summaries, rerank_mrr, retrieval_mrr, summary_token_ids

CODES = [
    "def add(a, b):\n    return a + b",
    "def read(path):\n    with open(path) as f:\n        return f.read()",
    "class Stack:\n    def __init__(self):\n        self.items = []\n    def push(self, x):\n        self.items.append(x)",
    "x = 1",
]


def test_batched_summaries_equal_one_at_a_time(smol_model_dir: Path) -> None:
    model, tok, _ = load_smol_dir(smol_model_dir)
    torch.manual_seed(0)
    with torch.no_grad():  # a fresh cross-attention adds zero; perturb it so the encoder matters
        for p in model.cross.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    kw = dict(prompt_length=64, code_length=32, max_new_tokens=8, stop=False)
    batched = summary_token_ids(model, tok, CODES, batch_size=4, **kw)
    alone = [summary_token_ids(model, tok, [c], **kw)[0] for c in CODES]
    assert batched == alone
    assert all(len(ids) == 8 for ids in batched) and len({tuple(ids) for ids in batched}) > 1
    texts = generate_summaries(model, tok, CODES, prompt_length=64, code_length=32, max_new_tokens=8)
    assert len(texts) == len(CODES) and all("\n" not in t and '"""' not in t for t in texts)
    kw = {**kw, "max_new_tokens": 16}
    looping = summary_token_ids(model, tok, CODES, batch_size=4, **kw)
    assert any(len(set(zip(r, r[1:]))) < len(r) - 1 for r in looping)  # the tiny model repeats itself
    held = summary_token_ids(model, tok, CODES, batch_size=4, no_repeat_ngram=2, **kw)
    assert held == [summary_token_ids(model, tok, [c], no_repeat_ngram=2, **kw)[0] for c in CODES]
    assert all(len(set(zip(r, r[1:]))) == len(r) - 1 for r in held)  # per row: no bigram twice


def test_retrieval_and_rerank_scores_are_mrrs(smol_model_dir: Path) -> None:
    model, tok, _ = load_smol_dir(smol_model_dir)
    rows = [{"docstring": f"function number {i}", "code": c} for i, c in enumerate(CODES)]
    mrr, sim = retrieval_mrr(model, tok, rows, text_length=16, code_length=32)
    assert sim.shape == (4, 4) and 0.25 <= mrr <= 1.0
    base, reranked = rerank_mrr(model, tok, rows, sim, k=2, queries=4, text_length=16, match_code_length=16)
    assert abs(base - mrr) < 1e-6  # the same embedding ranks, all four queries
    assert 0.25 <= reranked <= 1.0
