"""Text-to-code retrieval: every query against the pool of all codes in the file.

Systems: the bundle's embeddings (cosine), re-ranked with its matching head when it has one
(top-k by embedding, then `logit(P(match)) + cosine`, as the CodeT5+ run scripts do), and with
`baselines` BM25, MiniLM and a hybrid of the bundle's embedding with BM25 (reciprocal-rank
fusion, k=60).
"""
from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np

from model.runtime.bundle import lexical_weight
from training.eval import baselines as bl
from training.eval.metrics import gold_ranks, retrieval_metrics
from training.eval.report import TaskReport


def rerank_scores(cosine: np.ndarray, queries: Sequence[str], codes: Sequence[str],
                  match_fn, k: int) -> np.ndarray:
    """Scores where each row's top-k (by cosine) is re-ordered by `logit(match) + cosine`.

    `match_fn(query, codes) -> P(match)` per code. Candidates outside the top k keep their
    cosine order below every re-ranked one.
    """
    out = cosine.astype(np.float64).copy()
    k = min(k, cosine.shape[1])
    for i, query in enumerate(queries):
        top = np.argsort(-cosine[i], kind="stable")[:k]
        p = np.clip(np.asarray(match_fn(query, [codes[j] for j in top]), dtype=np.float64), 1e-7, 1 - 1e-7)
        out[i, top] = 1e3 + np.log(p / (1 - p)) + cosine[i, top]
    return out


def likelihood_rerank_scores(base: np.ndarray, cosine: np.ndarray, queries: Sequence[str], codes: Sequence[str],
                             loglik_fn, k: int, weight: float) -> np.ndarray:
    """Scores where each row's top-k by `base` is re-ordered by the server's fusion rule,
    `model.runtime.rerank.likelihood_fusion(cosine, log P(query | code), weight)`
    (`loglik_fn(query, codes)` as `SmolRuntime.query_likelihoods`). Candidates outside the top k
    keep their `base` order below every re-ranked one."""
    from model.runtime.rerank import likelihood_fusion

    out = base.astype(np.float64).copy()
    k = min(k, base.shape[1])
    for i, query in enumerate(queries):
        top = np.argsort(-base[i], kind="stable")[:k]
        ll = np.asarray(loglik_fn(query, [codes[j] for j in top]), dtype=np.float64)
        out[i, top] = 1e3 + likelihood_fusion(cosine[i, top], ll, weight)
    return out


def rrf_scores(*score_mats: np.ndarray, k: int = 60, weights: Sequence[float] | None = None) -> np.ndarray:
    """Reciprocal-rank fusion of score matrices: sum over systems of weight / (k + rank)."""
    fused = np.zeros_like(score_mats[0], dtype=np.float64)
    for n, s in enumerate(score_mats):
        w = 1.0 if weights is None else weights[n]
        order = np.argsort(-s, axis=1, kind="stable")
        ranks = np.empty_like(order)
        rows = np.arange(s.shape[0])[:, None]
        ranks[rows, order] = np.arange(1, s.shape[1] + 1)[None, :]
        fused += w / (k + ranks)
    return fused


def evaluate_retrieval(rows: list[dict[str, Any]], runtime=None, baselines: bool = False,
                       rerank_k: int = 32, batch_size: int = 16, data: str = "",
                       minilm_model=None, threads: int | None = None,
                       rerank_queries: int | None = None, likelihood_weight: float | None = None,
                       likelihood_k: int = 10) -> TaskReport:
    """MRR, R@1/5/10 of each system on `rows` ({"query", "code"}).

    `rerank_queries` = N re-ranks only the first N queries (against the whole pool), for
    matching heads too slow to score every query; the embedding is then also reported on
    those N, so the two rows compare like with like. `likelihood_weight` adds the likelihood
    re-rank (`likelihood_rerank_scores`, top `likelihood_k`) of the embedding's list and, with
    `baselines`, of the hybrid's, on the same N queries."""
    queries = [r["query"] for r in rows]
    codes = [r["code"] for r in rows]
    report = TaskReport("retrieval", data, len(rows))
    bm25 = None
    if runtime is not None:
        if not runtime.has_embedding:
            report.notes.append("bundle has no embedding graph: no retrieval numbers for it")
        else:
            t = time.monotonic()
            q = runtime.embed(queries, batch_size=batch_size)
            c = runtime.embed(codes, batch_size=batch_size)
            cos = np.asarray(q, dtype=np.float64) @ np.asarray(c, dtype=np.float64).T
            report.add("codet5p embedding", retrieval_metrics(gold_ranks(cos)), time.monotonic() - t)
            n = len(queries) if not rerank_queries else min(rerank_queries, len(queries))
            suffix = "" if n == len(queries) else f" (first {n} queries)"
            matching = runtime.has_matching and rerank_k > 0
            by_likelihood = (likelihood_weight is not None and hasattr(runtime, "query_likelihoods")
                             and runtime.has_decoder)
            if suffix and (matching or by_likelihood):
                report.add(f"codet5p embedding{suffix}",
                           retrieval_metrics(gold_ranks(cos[:n], list(range(n)))), 0.0)
            if matching:
                t = time.monotonic()
                rr = rerank_scores(cos[:n], queries[:n], codes, runtime.match_scores, rerank_k)
                report.add(f"codet5p + match re-rank@{rerank_k}{suffix}",
                           retrieval_metrics(gold_ranks(rr, list(range(n)))), time.monotonic() - t)
            loglik_fn = None
            if by_likelihood:
                memo: dict[tuple[str, str], float] = {}

                def loglik(query: str, cands: list[str]) -> np.ndarray:  # the two lists share most candidates
                    todo = [c for c in dict.fromkeys(cands) if (query, c) not in memo]
                    for c, v in zip(todo, runtime.query_likelihoods(query, todo) if todo else []):
                        memo[(query, c)] = float(v)
                    return np.array([memo[(query, c)] for c in cands])

                loglik_fn = loglik
                t = time.monotonic()
                lr = likelihood_rerank_scores(cos[:n], cos[:n], queries[:n], codes, loglik_fn, likelihood_k,
                                              likelihood_weight)
                report.add(f"codet5p + likelihood re-rank@{likelihood_k}{suffix}",
                           retrieval_metrics(gold_ranks(lr, list(range(n)))), time.monotonic() - t)
                report.notes.append(f"likelihood re-rank: z(cosine) + {likelihood_weight:g} x z(log P(query | code)) "
                                    f"over the top {likelihood_k}")
            if baselines:
                t = time.monotonic()
                bm25 = bl.bm25_scores(queries, codes)
                weight = lexical_weight(getattr(runtime, "manifest", {}) or {})
                report.add("codet5p embedding + BM25 (RRF)",  # weighted as the server fuses them
                           retrieval_metrics(gold_ranks(rrf_scores(cos, bm25, weights=(1.0, weight)))),
                           time.monotonic() - t)
                if weight != 1.0:
                    report.notes.append(f"hybrid: BM25 weighted {weight:g} in the fusion (the bundle's search.lexical_weight)")
                if loglik_fn is not None:
                    hybrid = rrf_scores(cos[:n], bm25[:n], weights=(1.0, weight))
                    if suffix:
                        report.add(f"codet5p embedding + BM25 (RRF){suffix}",
                                   retrieval_metrics(gold_ranks(hybrid, list(range(n)))), 0.0)
                    t = time.monotonic()
                    lr = likelihood_rerank_scores(hybrid, cos[:n], queries[:n], codes, loglik_fn, likelihood_k,
                                                  likelihood_weight)
                    report.add(f"codet5p embedding + BM25 (RRF) + likelihood re-rank@{likelihood_k}{suffix}",
                               retrieval_metrics(gold_ranks(lr, list(range(n)))), time.monotonic() - t)
    if baselines:
        t = time.monotonic()
        bm25 = bl.bm25_scores(queries, codes) if bm25 is None else bm25
        report.add("baseline BM25", retrieval_metrics(gold_ranks(bm25)), time.monotonic() - t)
        t = time.monotonic()
        mini = bl.minilm_scores(queries, codes, model=minilm_model, threads=threads)
        report.add("baseline MiniLM-L6", retrieval_metrics(gold_ranks(mini)), time.monotonic() - t)
    return report
