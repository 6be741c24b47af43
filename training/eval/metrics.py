"""Metrics as the CodeT5+ paper reports them (BLEU lives in `training.eval.bleu`).

- retrieval: rank of the gold candidate, MRR and recall@k;
- line completion: exact match (whitespace-token equality, as CodeXGLUE's evaluator) and edit
  similarity 0-100 (the fuzzy ratio: 100 * 2 * LCS / (len(a) + len(b)), i.e. the normalised
  InDel similarity that `fuzz.ratio` computes, without its rounding);
- code generation: the unbiased pass@k estimator of Chen et al. (2021).
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np


def gold_ranks(scores: np.ndarray, gold: Sequence[int] | None = None) -> np.ndarray:
    """1-based rank of each row's gold column in a [queries, candidates] score matrix.

    The gold of row i is column `gold[i]` (default i). Ties are broken against the gold
    (rank = 1 + #candidates scoring >= gold, the gold itself excluded), so a scorer that gives
    everything the same score does not look perfect.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-D [queries, candidates], got shape {scores.shape}")
    n = scores.shape[0]
    idx = np.arange(n) if gold is None else np.asarray(gold, dtype=np.int64)
    if idx.shape != (n,):
        raise ValueError(f"need one gold index per query ({n}), got {idx.shape}")
    gold_scores = scores[np.arange(n), idx][:, None]
    at_least = (scores >= gold_scores).sum(axis=1)  # includes the gold itself
    return at_least.astype(np.int64)


def mrr(ranks: Iterable[int]) -> float:
    """Mean reciprocal rank of 1-based ranks."""
    r = np.asarray(list(ranks), dtype=np.float64)
    if r.size == 0:
        return 0.0
    if (r < 1).any():
        raise ValueError("ranks are 1-based")
    return float(np.mean(1.0 / r))


def recall_at(ranks: Iterable[int], k: int) -> float:
    """Share of queries whose gold is within the top k."""
    r = np.asarray(list(ranks))
    return float(np.mean(r <= k)) if r.size else 0.0


def retrieval_metrics(ranks: Iterable[int], ks: Sequence[int] = (1, 5, 10)) -> dict[str, float]:
    """{"mrr": ..., "r@1": ..., ...} from 1-based gold ranks."""
    ranks = list(ranks)
    out = {"mrr": mrr(ranks)}
    for k in ks:
        out[f"r@{k}"] = recall_at(ranks, k)
    return out


def lcs_length(a: str, b: str) -> int:
    """Length of the longest common subsequence (bit-parallel, Hyyrö 2004), O(len(b)) big-int ops."""
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return 0
    masks: dict[str, int] = {}
    for i, ch in enumerate(a):
        masks[ch] = masks.get(ch, 0) | (1 << i)
    full = (1 << len(a)) - 1
    v = full
    for ch in b:
        u = v & masks.get(ch, 0)
        v = ((v + u) | (v - u)) & full
    return len(a) - bin(v).count("1")


def edit_similarity(pred: str, gold: str) -> float:
    """Fuzzy ratio in [0, 100]: 100 * (1 - InDel distance / (len(pred) + len(gold)))."""
    total = len(pred) + len(gold)
    if total == 0:
        return 100.0
    return 100.0 * 2.0 * lcs_length(pred, gold) / total


def exact_match(pred: str, gold: str) -> bool:
    """CodeXGLUE line-completion exact match: equal sequences of whitespace-separated tokens."""
    return pred.split() == gold.split()


def completion_metrics(preds: Sequence[str], golds: Sequence[str]) -> dict[str, float]:
    """{"em": percent, "es": mean edit similarity 0-100} over paired predictions and references."""
    if len(preds) != len(golds):
        raise ValueError(f"{len(preds)} predictions for {len(golds)} references")
    if not golds:
        return {"em": 0.0, "es": 0.0}
    em = sum(exact_match(p.strip(), g.strip()) for p, g in zip(preds, golds))
    es = sum(edit_similarity(p.strip(), g.strip()) for p, g in zip(preds, golds))
    return {"em": 100.0 * em / len(golds), "es": es / len(golds)}


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem with n samples of which c pass: 1 - C(n-c, k) / C(n, k)."""
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n} c={c}")
    if k < 1 or k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples, got {n}")
    if n - c < k:
        return 1.0
    # product form, numerically stable: prod_{i=n-c+1..n} (1 - k / i)
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def mean_pass_at_k(samples: Sequence[tuple[int, int]], k: int) -> float | None:
    """Mean pass@k over problems given (n, c) each; None when some problem has fewer than k samples."""
    if not samples or any(n < k for n, _ in samples):
        return None
    return float(np.mean([pass_at_k(n, c, k) for n, c in samples]))
