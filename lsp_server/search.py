"""`workspace/symbol` search over the index: classic for identifiers, hybrid for sentences.

- `is_identifier_query("parseReq")` -> classic: exact, prefix, substring and camel/subsequence
  name matches, shortest first.
- Natural language ("read the config file") -> FTS5 BM25 candidates and embedding cosine
  candidates fused by reciprocal rank (k=60); the top-k are re-ranked by the matching head
  when the model has one. Without a model the lexical list alone is used.
Functions take the store and callables for the model, so they run without LSP or a model.
"""
from __future__ import annotations

import bisect
import itertools
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from lsp_server.store import Store

log = logging.getLogger(__name__)

RRF_K = 60
_IDENT_QUERY = re.compile(r"^[A-Za-z_$][\w$]*([.:]{1,2}[A-Za-z_$][\w$]*)*$")


def is_identifier_query(query: str) -> bool:
    """One identifier-like token (or dotted path): a classic symbol search."""
    q = query.strip()
    return not q or bool(_IDENT_QUERY.match(q))


@dataclass
class SearchHit:
    row: dict
    score: float
    sources: list[str] = field(default_factory=list)


class NameIndex:
    """Symbol names in memory (id, name, lower-case name) for fast classic search; reloaded
    when the store changes, at most every `min_interval` s while indexing."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.names: list[str] = []
        self.lower: list[str] = []
        self.blob = ""
        self.starts: list[int] = []
        self.version = -1
        self.loaded_at = 0.0
        self._lock = threading.Lock()

    def refresh(self, store: Store, version: int, min_interval: float = 2.0) -> None:
        with self._lock:
            if version == self.version or (time.monotonic() - self.loaded_at < min_interval and self.ids):
                return
            rows = store.db.execute("SELECT id, name FROM symbols").fetchall()
            self.ids = [r[0] for r in rows]
            self.names = [r[1] for r in rows]
            self.lower = [n.lower().replace("\n", " ") for n in self.names]
            self.blob = "\n".join(self.lower)  # searched with C-speed regexes
            self.starts = list(itertools.accumulate([0] + [len(n) + 1 for n in self.lower[:-1]]))
            self.version, self.loaded_at = version, time.monotonic()

    def _lines(self, pattern: str) -> list[int]:
        out, last = [], -1
        for m in re.finditer(pattern, self.blob):
            i = bisect.bisect_right(self.starts, m.start()) - 1
            if i != last:
                out.append(i)
                last = i
        return out

    def candidates(self, query: str, limit: int) -> list[int]:
        """Ids of names containing `query` (case-insensitive), or as a subsequence if few do."""
        if not self.ids:
            return []
        q = query.lower()
        hits = self._lines(re.escape(q))
        hits.sort(key=lambda i: (self.lower[i] != q, not self.lower[i].startswith(q), len(self.lower[i])))
        if len(hits) < 5 and len(q) <= 10:  # fuzzy only when the plain match finds (almost) nothing
            seen = set(hits)
            sub = "[^\n]*?".join(re.escape(c) for c in q)
            more = [i for i in self._lines(sub) if i not in seen]
            hits += sorted(more, key=lambda i: len(self.lower[i]))
        return [self.ids[i] for i in hits[: limit * 2]]


def classic_search(store: Store, query: str, limit: int = 50, names: NameIndex | None = None) -> list[SearchHit]:
    """Symbol-name search: exact > prefix > substring > subsequence; shorter names first."""
    q = query.strip().split(".")[-1].split(":")[-1]
    container = query.strip()[: -len(q)].strip(".:") if q != query.strip() else ""
    if not q:
        rows = store.rows("1", [], limit, order="name")
        return [SearchHit(r, 0.0, ["name"]) for r in rows]
    if names is not None:
        by_id = store.symbols_by_ids(names.candidates(q, limit))
        rows = list(by_id.values())
    else:
        esc = "".join(_like_chars(q))
        rows = store.rows("name LIKE ? ESCAPE '\\'", [f"%{esc}%"], limit * 4, order="length(name), name")
        if len(rows) < limit:
            pattern = "%" + "%".join(_like_chars(q)) + "%"
            seen = {r["id"] for r in rows}
            rows += [r for r in store.rows("name LIKE ? ESCAPE '\\'", [pattern], limit * 4,
                                           order="length(name), name") if r["id"] not in seen]
    ql = q.lower()

    def rank(row: dict) -> tuple:
        name = row["name"].lower()
        tier = 0 if row["name"] == q else 1 if name == ql else 2 if name.startswith(ql) else \
            3 if ql in name else 4
        in_container = 0 if container and container.lower() in (row["container"] or "").lower() else 1
        return (in_container if container else 0, tier, len(name), row["path"], row["start_line"])

    rows.sort(key=rank)
    return [SearchHit(r, float(-i), ["name"]) for i, r in enumerate(rows[:limit])]


def _like_chars(q: str) -> list[str]:
    return [("\\" + c) if c in "%_\\" else c for c in q]


class VectorIndex:
    """The index's embeddings in memory (float32 unit rows), reloaded when the store changes."""

    def __init__(self) -> None:
        self.ids = np.zeros(0, dtype=np.int64)
        self.matrix = np.zeros((0, 0), dtype=np.float32)
        self.version = -1
        self.model = ""
        self.loaded_at = 0.0
        self._lock = threading.Lock()

    def refresh(self, store: Store, model: str, version: int, min_interval: float = 2.0) -> None:
        """Reload when the index changed, at most every `min_interval` s (indexing bumps often)."""
        with self._lock:
            if version == self.version and model == self.model:
                return
            fresh = time.monotonic() - self.loaded_at < min_interval
            if fresh and model == self.model and self.matrix.size:
                return
            t0 = time.perf_counter()
            self.ids, self.matrix = store.embedding_matrix(model)
            self.version, self.model = version, model
            self.loaded_at = time.monotonic()
            log.info("loaded %d vectors in %.0f ms", len(self.ids), (time.perf_counter() - t0) * 1000)

    def nearest(self, query_vec: np.ndarray, k: int) -> list[tuple[int, float]]:
        if self.matrix.size == 0 or query_vec.shape[-1] != self.matrix.shape[1]:
            return []
        scores = self.matrix @ query_vec.astype(np.float32).reshape(-1)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(int(self.ids[i]), float(scores[i])) for i in top]


def rrf(ranked_lists: Sequence[Sequence[int]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Reciprocal-rank fusion: sum of 1 / (k + rank) over the lists, best first."""
    scores: dict[int, float] = {}
    for ranked in ranked_lists:
        for rank, item in enumerate(ranked):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank + 1)
    return sorted(scores.items(), key=lambda kv: -kv[1])


def match_text(row: dict, max_chars: int = 400) -> str:
    """What the matching head sees for a symbol: docstring, then the head of the code (the
    signature and first lines carry most of the signal; the cost grows with the length)."""
    doc = f"{row['docstring']}\n" if row.get("docstring") else ""
    return f"{doc}{row['code']}"[:max_chars]


def hybrid_search(store: Store, query: str, vectors: VectorIndex | None,
                  embed: Callable[[str], np.ndarray] | None,
                  match: Callable[[str, list[str]], np.ndarray] | None,
                  limit: int = 50, candidates: int = 100, rerank_top_k: int = 10) -> list[SearchHit]:
    """Lexical + semantic retrieval fused by RRF; optional matching-head re-rank of the top-k."""
    lexical = [sid for sid, _ in store.fts(query, candidates)]
    semantic: list[int] = []
    if embed is not None and vectors is not None and vectors.matrix.size:
        semantic = [sid for sid, _ in vectors.nearest(embed(query), candidates)]
    fused = rrf([lst for lst in (lexical, semantic) if lst])
    ids = [sid for sid, _ in fused[: max(limit, rerank_top_k)]]
    rows = store.symbols_by_ids(ids)
    lex_set, sem_set = set(lexical), set(semantic)
    hits = [SearchHit(rows[sid], score,
                      [s for s, ok in (("lexical", sid in lex_set), ("semantic", sid in sem_set)) if ok])
            for sid, score in fused[: max(limit, rerank_top_k)] if sid in rows]
    if match is not None and hits and rerank_top_k > 1:
        head = hits[:rerank_top_k]
        probs = match(query, [match_text(h.row) for h in head])
        for hit, p in zip(head, probs):
            hit.score = 1.0 + float(p)  # re-ranked hits stay above the rest
            hit.sources.append("rerank")
        head.sort(key=lambda h: -h.score)
        hits = head + hits[rerank_top_k:]
    return hits[:limit]
