"""Retrieval ranks, MRR/R@k, exact match / edit similarity and pass@k against closed forms."""
from __future__ import annotations

import math
import random

import numpy as np
import pytest

from training.eval.metrics import (completion_metrics, edit_similarity, exact_match, gold_ranks,
                                   lcs_length, mean_pass_at_k, mrr, pass_at_k, recall_at,
                                   retrieval_metrics)


def test_gold_ranks_and_mrr_by_hand():
    scores = np.array([[0.9, 0.1, 0.5],    # gold 0 first -> rank 1
                       [0.8, 0.2, 0.1],    # gold 1 second -> rank 2
                       [0.7, 0.6, 0.5]])   # gold 2 last -> rank 3
    ranks = gold_ranks(scores)
    assert ranks.tolist() == [1, 2, 3]
    assert mrr(ranks) == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)
    assert recall_at(ranks, 1) == pytest.approx(1 / 3)
    assert recall_at(ranks, 2) == pytest.approx(2 / 3)
    m = retrieval_metrics(ranks, ks=(1, 5, 10))
    assert m["r@5"] == m["r@10"] == 1.0


def test_ties_count_against_the_gold():
    flat = np.zeros((4, 4))
    assert gold_ranks(flat).tolist() == [4, 4, 4, 4]
    assert gold_ranks(np.array([[1.0, 1.0, 0.0]]), gold=[1]).tolist() == [2]


def test_gold_ranks_rejects_bad_shapes():
    with pytest.raises(ValueError):
        gold_ranks(np.zeros(3))
    with pytest.raises(ValueError):
        gold_ranks(np.zeros((2, 3)), gold=[0])


def _lcs_dp(a: str, b: str) -> int:
    m = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            m[i + 1][j + 1] = m[i][j] + 1 if x == y else max(m[i][j + 1], m[i + 1][j])
    return m[-1][-1]


def test_bit_parallel_lcs_matches_dynamic_programming():
    rng = random.Random(0)
    for _ in range(300):
        a = "".join(rng.choice("ab c(") for _ in range(rng.randint(0, 70)))
        b = "".join(rng.choice("abc )") for _ in range(rng.randint(0, 70)))
        assert lcs_length(a, b) == _lcs_dp(a, b)


def test_edit_similarity_and_exact_match_by_hand():
    assert edit_similarity("abc", "abd") == pytest.approx(100 * 4 / 6)      # LCS 2
    assert edit_similarity("return x", "return x") == 100.0
    assert edit_similarity("", "") == 100.0
    assert edit_similarity("abc", "") == 0.0
    assert exact_match("foo(a,  b)", "foo(a, b)")                           # whitespace tokens
    assert not exact_match("foo(a,b)", "foo(a, b)")
    m = completion_metrics(["self.x = 1", "return y"], ["self.x = 1", "return x"])
    assert m["em"] == pytest.approx(50.0)
    assert m["es"] == pytest.approx((100 + 100 * 2 * 7 / 16) / 2)


def test_pass_at_k_equals_closed_form():
    for n in range(1, 21):
        for c in range(0, n + 1):
            for k in (1, 5, 10):
                if k > n:
                    continue
                closed = 1.0 - math.comb(n - c, k) / math.comb(n, k)
                assert pass_at_k(n, c, k) == pytest.approx(closed, abs=1e-12)
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)


def test_pass_at_k_needs_enough_samples():
    with pytest.raises(ValueError):
        pass_at_k(5, 1, 10)
    assert mean_pass_at_k([(1, 1), (1, 0)], 10) is None
    assert mean_pass_at_k([(10, 10), (10, 0)], 10) == pytest.approx(0.5)
