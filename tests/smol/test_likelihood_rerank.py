"""The likelihood re-rank of search hits: the fusion rule, and the eval rows on a tiny smol bundle."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from model.runtime.smol_runtime import SmolRuntime
from training.eval.retrieval import evaluate_retrieval, likelihood_rerank_scores

PAIRS = [
    ("read the text of a file", "def read_file(path):\n    with open(path) as fh:\n        return fh.read()\n"),
    ("add two numbers", "def add(a, b):\n    return a + b\n"),
    ("sort a list of numbers in place", "def sort_numbers(xs):\n    xs.sort()\n    return xs\n"),
    ("compute the mean of a list", "def mean(values):\n    return sum(values) / len(values)\n"),
    ("delete a file from disk", "def remove_file(path):\n    os.remove(path)\n"),
]


def test_fusion_reorders_only_the_top_k() -> None:
    cos = np.array([[0.9, 0.8, 0.7, 0.1]])
    codes = ["a", "b", "c", "d"]
    favour = {"a": -30.0, "b": -5.0, "c": -29.0, "d": 0.0}  # "d" would win but is outside the top 3
    out = likelihood_rerank_scores(cos, cos, ["q"], codes, lambda q, cs: [favour[c] for c in cs], 3, 2.0)
    assert list(np.argsort(-out[0])) == [1, 0, 2, 3]
    zero = likelihood_rerank_scores(cos, cos, ["q"], codes, lambda q, cs: [favour[c] for c in cs], 3, 0.0)
    assert list(np.argsort(-zero[0])) == [0, 1, 2, 3]  # weight 0: the cosine order


def test_eval_reports_the_likelihood_rows(smol_bundle: Path) -> None:
    rt = SmolRuntime.load(smol_bundle, threads=1)
    rows = [{"query": q, "code": c} for q, c in PAIRS]
    report = evaluate_retrieval(rows, rt, baselines=True, rerank_k=0, rerank_queries=3,
                                likelihood_weight=1.0, likelihood_k=3)
    systems = report.systems
    for name in ("codet5p + likelihood re-rank@3 (first 3 queries)",
                 "codet5p embedding + BM25 (RRF) + likelihood re-rank@3 (first 3 queries)",
                 "codet5p embedding (first 3 queries)", "codet5p embedding + BM25 (RRF) (first 3 queries)"):
        assert 0.0 < systems[name]["mrr"] <= 1.0, name
    assert any("likelihood re-rank" in n for n in report.notes)
