"""Okapi BM25 over identifier-split tokens (the lexical baseline and neighbour finder).

Pure Python postings; a pool of a few thousand documents scores all queries in seconds.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Callable, Sequence

import numpy as np

from training.eval.text import identifier_tokens


class BM25:
    """BM25 index over `documents` (k1=1.2, b=0.75, Lucene-style non-negative idf)."""

    def __init__(self, documents: Sequence[str], k1: float = 1.2, b: float = 0.75,
                 tokenizer: Callable[[str], list[str]] = identifier_tokens) -> None:
        self.k1, self.b, self.tokenizer = k1, b, tokenizer
        self.n_docs = len(documents)
        self.postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        lengths = []
        for doc_id, doc in enumerate(documents):
            counts = Counter(tokenizer(doc))
            lengths.append(sum(counts.values()))
            for term, tf in counts.items():
                self.postings[term].append((doc_id, tf))
        self.lengths = np.asarray(lengths, dtype=np.float64)
        self.avg_len = float(self.lengths.mean()) if self.n_docs else 0.0
        self.idf = {t: math.log(1.0 + (self.n_docs - len(p) + 0.5) / (len(p) + 0.5))
                    for t, p in self.postings.items()}

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document for one query, float64 [n_docs]."""
        out = np.zeros(self.n_docs, dtype=np.float64)
        norm = self.k1 * (1.0 - self.b + self.b * self.lengths / max(self.avg_len, 1e-9))
        for term, qtf in Counter(self.tokenizer(query)).items():
            posting = self.postings.get(term)
            if not posting:
                continue
            ids = np.fromiter((d for d, _ in posting), dtype=np.int64, count=len(posting))
            tfs = np.fromiter((tf for _, tf in posting), dtype=np.float64, count=len(posting))
            out[ids] += qtf * self.idf[term] * tfs * (self.k1 + 1.0) / (tfs + norm[ids])
        return out

    def score_matrix(self, queries: Sequence[str]) -> np.ndarray:
        """[len(queries), n_docs] scores."""
        return np.stack([self.scores(q) for q in queries]) if queries else np.zeros((0, self.n_docs))
