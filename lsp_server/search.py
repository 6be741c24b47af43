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
import math
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from lsp_server.memory import release_free_memory
from lsp_server.store import Store

log = logging.getLogger(__name__)

RRF_K = 60
_LEXICAL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="codet5p-lexical")
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


Journal = Callable[[int], "tuple[set[str], set[str]] | None"]


SCORE_CHUNK = 1024  # rows widened to float32 at a time when scoring: the fastest of 256-16384 on
# the standard library's 72k vectors (`python bench/vector_precision.py`: 5.7 ms a search,
# 6.9 ms with 256 rows, 6.3-10.6 ms with 4,096-16,384)


def quantize_rows(vecs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 rows and one float32 scale per row (symmetric: scale = max |x| / 127) of `vecs`,
    a chunk of rows at a time (the float32 temporaries stay small next to a 100 MB matrix)."""
    vecs = np.asarray(vecs, dtype=np.float32)
    if vecs.ndim != 2:
        raise ValueError(f"vectors must be a matrix, not shape {vecs.shape}")
    rows = np.empty(vecs.shape, dtype=np.int8)
    scales = np.zeros(len(vecs), dtype=np.float32)
    for start in range(0, len(vecs), SCORE_CHUNK):
        part = vecs[start:start + SCORE_CHUNK]
        if not part.size:
            continue
        scale = np.abs(part).max(axis=1) / np.float32(127.0)
        scales[start:start + len(part)] = scale
        safe = np.where(scale > 0, scale, np.float32(1.0))
        rows[start:start + len(part)] = np.clip(np.rint(part / safe[:, None]), -127, 127)
    return rows, scales


class VectorIndex:
    """The index's embeddings in memory: int8 unit rows with a float32 scale each (about a
    quarter of float32's bytes: 27 MB instead of 105 for the standard library's 70k vectors of
    384 dimensions), scored
    with matrix-vector products over chunks widened to float32 (as fast as the float32 product:
    `python bench/vector_precision.py`, which also shows the ranking unchanged). Loaded once from
    the store, then kept in step incrementally from the indexer's change journal (rows of
    changed files are dropped and re-read, new vectors appended); a full reload only when the
    journal does not reach back or the change is large.

    Rows live in `matrix[:n]` (`scales[:n]`); a dropped row keeps its slot with id -1 and scale
    0 until a compaction."""

    FULL_RELOAD_PATHS = 2000  # more changed files than this: reload everything

    def __init__(self) -> None:
        self.ids = np.zeros(0, dtype=np.int64)
        self.matrix = np.zeros((0, 0), dtype=np.int8)
        self.scales = np.zeros(0, dtype=np.float32)
        self.n = 0
        self.dead = 0
        self.version = -1
        self.model = ""
        self.loaded_at = 0.0
        self._paths: dict[str, list[int]] = {}  # path -> rows
        self._row_of: dict[int, int] = {}  # symbol id -> row
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self.n - self.dead

    @property
    def nbytes(self) -> int:
        """Bytes of the rows, scales and ids (capacity included)."""
        return self.matrix.nbytes + self.scales.nbytes + self.ids.nbytes

    def vectors(self) -> np.ndarray:
        """The rows as float32 (de-quantised), `[n, d]`: for checks, not for scoring."""
        return self.matrix[:self.n].astype(np.float32) * self.scales[:self.n, None]

    def refresh(self, store: Store, model: str, version: int, min_interval: float = 2.0,
                journal: Journal | None = None) -> None:
        """Bring the vectors up to `version` of the store: incrementally when `journal(v)`
        says what changed since v, else by a full reload (at most every `min_interval` s
        while the index keeps changing)."""
        with self._lock:
            if version == self.version and model == self.model:
                return
            t0 = time.perf_counter()
            changes = journal(self.version) if journal is not None and model == self.model else None
            if changes is not None and len(changes[0]) <= self.FULL_RELOAD_PATHS:
                self._apply(store, model, *changes)
                self.version = version
                log.debug("applied %d files, %d vectors in %.1f ms", len(changes[0]), len(changes[1]),
                          (time.perf_counter() - t0) * 1000)
                return
            fresh = time.monotonic() - self.loaded_at < min_interval
            if fresh and model == self.model and len(self):
                return
            ids, paths, matrix = store.embedding_rows(model)
            rows, scales = quantize_rows(matrix)
            del matrix
            self._set(ids, paths, rows, scales)
            count = len(ids)
            del ids, paths, rows, scales
            release_free_memory()  # the load's freed rows would otherwise stay resident
            self.version, self.model = version, model
            self.loaded_at = time.monotonic()
            log.info("loaded %d vectors in %.0f ms", count, (time.perf_counter() - t0) * 1000)

    def _set(self, ids: np.ndarray, paths: list[str], rows: np.ndarray, scales: np.ndarray) -> None:
        self.ids, self.matrix, self.scales = ids.copy(), rows, scales
        self.n, self.dead = len(ids), 0
        self._paths, self._row_of = {}, {}
        for row, (sid, path) in enumerate(zip(ids.tolist(), paths)):
            self._paths.setdefault(path, []).append(row)
            self._row_of[sid] = row

    def _drop(self, row: int) -> None:
        sid = int(self.ids[row])
        if sid >= 0:
            self.ids[row] = -1
            self.matrix[row] = 0
            self.scales[row] = 0.0
            self._row_of.pop(sid, None)
            self.dead += 1

    def _apply(self, store: Store, model: str, paths: set[str], hashes: set[str]) -> None:
        for path in paths:
            for row in self._paths.pop(path, []):
                self._drop(row)
        if not paths and not hashes:
            return
        ids, row_paths, vecs = store.embedding_rows(model, sorted(paths), sorted(hashes))
        if len(ids) and self.matrix.size and vecs.shape[1] != self.matrix.shape[1]:
            raise ValueError(f"vector size {vecs.shape[1]} != {self.matrix.shape[1]}")
        for sid in ids.tolist():  # re-read rows (e.g. new vectors of known symbols) replace old ones
            row = self._row_of.get(sid)
            if row is not None:
                self._drop(row)
        self._append(ids, row_paths, vecs)
        if self.dead > max(1024, self.n // 4):
            self._compact()

    def _append(self, ids: np.ndarray, paths: list[str], vecs: np.ndarray) -> None:
        if not len(ids):
            return
        rows, scales = quantize_rows(vecs)
        need = self.n + len(ids)
        if self.matrix.size == 0 or need > len(self.matrix):  # grow by half: amortised appends
            cap = max(need, len(self.matrix) * 3 // 2, 256)
            matrix = np.zeros((cap, rows.shape[1]), dtype=np.int8)
            new_scales = np.zeros(cap, dtype=np.float32)
            if self.n:  # an empty index is (0, 0): nothing to copy (the copy raised a shape error)
                matrix[:self.n] = self.matrix[:self.n]
                new_scales[:self.n] = self.scales[:self.n]
            new_ids = np.full(cap, -1, dtype=np.int64)
            new_ids[:self.n] = self.ids[:self.n]
            self.matrix, self.scales, self.ids = matrix, new_scales, new_ids
        self.matrix[self.n:need] = rows
        self.scales[self.n:need] = scales
        self.ids[self.n:need] = ids
        for row, (sid, path) in enumerate(zip(ids.tolist(), paths), start=self.n):
            self._paths.setdefault(path, []).append(row)
            self._row_of[sid] = row
        self.n = need

    def _compact(self) -> None:
        keep = np.flatnonzero(self.ids[:self.n] >= 0)
        paths = {row: path for path, rows in self._paths.items() for row in rows}
        self._set(self.ids[keep], [paths[int(r)] for r in keep], self.matrix[keep], self.scales[keep])

    def scores(self, query_vec: np.ndarray) -> np.ndarray:
        """Cosine of every row `[n]` with `query_vec` (dropped rows score 0)."""
        q = np.asarray(query_vec, dtype=np.float32).reshape(-1)
        out = np.empty(self.n, dtype=np.float32)
        for start in range(0, self.n, SCORE_CHUNK):
            stop = min(self.n, start + SCORE_CHUNK)
            out[start:stop] = self.matrix[start:stop].astype(np.float32) @ q
        out *= self.scales[:self.n]
        return out

    def nearest(self, query_vec: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The `k` rows most similar to `query_vec` (cosine), best first: (symbol id, score)."""
        with self._lock:
            if len(self) == 0 or query_vec.shape[-1] != self.matrix.shape[1]:
                return []
            scores = self.scores(query_vec)
            ids = self.ids[:self.n]
            if self.dead:
                scores[ids < 0] = -np.inf
            k = min(k, len(self))
            top = np.argpartition(-scores, k - 1)[:k]
            top = top[np.argsort(-scores[top])]
            return [(int(ids[i]), float(scores[i])) for i in top]


def rrf(ranked_lists: Sequence[Sequence[int]], k: int = RRF_K,
        weights: Sequence[float] | None = None) -> list[tuple[int, float]]:
    """Reciprocal-rank fusion: sum of weight / (k + rank) over the lists, best first."""
    scores: dict[int, float] = {}
    for n, ranked in enumerate(ranked_lists):
        w = 1.0 if weights is None else weights[n]
        for rank, item in enumerate(ranked):
            scores[item] = scores.get(item, 0.0) + w / (k + rank + 1)
    return sorted(scores.items(), key=lambda kv: -kv[1])


# Code tokens the matching head reads per re-ranked candidate: its cost is linear in them, and
# the signature, docstring and first lines carry most of what a query can match.
RERANK_CODE_TOKENS = 64


def match_text(row: dict, max_chars: int = 320) -> str:
    """What the matching head sees for a symbol: the first docstring paragraph, then the head of
    the code (signature and first lines); the runtime cuts it to `RERANK_CODE_TOKENS`."""
    doc = (row.get("docstring") or "").strip().split("\n\n")[0]
    return (f"{doc}\n{row['code']}" if doc else row["code"])[:max_chars]


def hybrid_search(store: Store, query: str, vectors: VectorIndex | None,
                  embed: Callable[[str], np.ndarray] | None,
                  match: Callable[[str, list[str]], np.ndarray] | None,
                  limit: int = 50, candidates: int = 100, rerank_top_k: int = 10,
                  lexical_weight: float = 1.0,
                  likelihood: Callable[[str, list[str]], np.ndarray | None] | None = None,
                  likelihood_weight: float = 0.5) -> list[SearchHit]:
    """Lexical + semantic retrieval fused by RRF (the lexical list weighted by `lexical_weight`,
    see `lexical_weight_of`); optional re-rank of the top-k: by the likelihood of the query as
    each code's docstring (`likelihood(query, codes)` -> log-likelihoods, or None to skip),
    fused with the cosine by `model.runtime.rerank.likelihood_fusion` (the rule the evaluation
    measured), else by the matching head.

    The lexical query runs on a helper thread while the query is embedded and scored (SQLite,
    ONNX Runtime and numpy release the GIL), so on two cores the slower of the two sets the time."""
    semantic: list[int] = []
    cosine: dict[int, float] = {}
    lexical_job = None
    if embed is not None and vectors is not None and len(vectors):
        lexical_job = _LEXICAL.submit(store.fts, query, candidates)
        nearest = vectors.nearest(embed(query), candidates)
        semantic = [sid for sid, _ in nearest]
        cosine = dict(nearest)
    lexical = [sid for sid, _ in (lexical_job.result() if lexical_job else store.fts(query, candidates))]
    lists = [(lst, w) for lst, w in ((lexical, lexical_weight), (semantic, 1.0)) if lst]
    fused = rrf([lst for lst, _ in lists], weights=[w for _, w in lists])
    ids = [sid for sid, _ in fused[: max(limit, rerank_top_k)]]
    rows = store.symbols_by_ids(ids)
    lex_set, sem_set = set(lexical), set(semantic)
    hits = [SearchHit(rows[sid], score,
                      [s for s, ok in (("lexical", sid in lex_set), ("semantic", sid in sem_set)) if ok])
            for sid, score in fused[: max(limit, rerank_top_k)] if sid in rows]
    if likelihood is not None and hits and rerank_top_k > 1:
        head = hits[:rerank_top_k]
        loglik = likelihood(query, [h.row["code"] for h in head])
        if loglik is not None and len(loglik) == len(head):
            from model.runtime.rerank import likelihood_fusion

            floor = min(cosine.values(), default=0.0)  # a lexical-only hit: no better than the last semantic one
            fused = likelihood_fusion(np.array([cosine.get(h.row["id"], floor) for h in head]), np.asarray(loglik),
                                      likelihood_weight)
            for hit, f in zip(head, fused):
                hit.score = 1.0 + 1.0 / (1.0 + math.exp(-float(f)))  # re-ranked hits stay above the rest
                hit.sources.append("rerank")
            head.sort(key=lambda h: -h.score)
            hits = head + hits[rerank_top_k:]
        return hits[:limit]
    if match is not None and hits and rerank_top_k > 1:
        head = hits[:rerank_top_k]
        probs = match(query, [match_text(h.row) for h in head])
        for hit, p in zip(head, probs):
            hit.score = 1.0 + float(p)  # re-ranked hits stay above the rest
            hit.sources.append("rerank")
        head.sort(key=lambda h: -h.score)
        hits = head + hits[rerank_top_k:]
    return hits[:limit]


HYBRID_SYSTEM = "codet5p embedding + BM25 (RRF)"
EMBEDDING_SYSTEM = "codet5p embedding"
RERANK_SYSTEM = "codet5p + match re-rank"
LEXICAL_SYSTEM = "baseline BM25"


def lexical_weight_of(manifest: dict[str, Any]) -> float:
    """The BM25 weight the bundle records for the hybrid fusion (`model.runtime.bundle.lexical_weight`)."""
    from model.runtime.bundle import lexical_weight

    return lexical_weight(manifest)


LIKELIHOOD_SYSTEM = HYBRID_SYSTEM + " + likelihood re-rank"


def _recorded_gain(manifest: dict[str, Any], system: str, base_system: str) -> bool | None:
    """Whether the bundle's recorded retrieval row `system...` ranks at least as well as
    `base_system` on the same queries (the row's "(first N queries)" suffix); None when nothing
    comparable was recorded."""
    systems = (manifest.get("evaluation") or {}).get("retrieval", {}).get("systems", {})
    for name, row in systems.items():
        if not name.startswith(system):
            continue
        suffix = name[name.rindex(" ("):] if name.endswith(")") and " (" in name else ""
        base = systems.get(base_system + suffix)
        try:
            return float(row["mrr"]) >= float(base["mrr"])  # type: ignore[index]
        except (KeyError, TypeError, ValueError):
            return None
    return None


def likelihood_rerank_of(manifest: dict[str, Any]) -> float | None:
    """The likelihood re-rank's weight when the bundle records one (`search.likelihood_weight`)
    and its recorded evaluation does not rank it below the hybrid on the same queries; else None."""
    from model.runtime.bundle import likelihood_weight

    weight = likelihood_weight(manifest)
    if weight is None or _recorded_gain(manifest, LIKELIHOOD_SYSTEM, HYBRID_SYSTEM) is False:
        return None
    return weight


def rerank_useful(manifest: dict[str, Any]) -> bool:
    """False when the bundle's recorded retrieval evaluation has a matching-head re-rank row that
    ranks below the embedding on the same queries; True when it helps or nothing was recorded."""
    return _recorded_gain(manifest, RERANK_SYSTEM, EMBEDDING_SYSTEM) is not False


def semantic_search_useful(manifest: dict[str, Any]) -> bool:
    """False when the bundle's own recorded retrieval evaluation (`codet5p-train eval retrieval
    --baselines --record`) shows its embedding + BM25 hybrid ranking below BM25 alone; True when
    it does not, or when nothing was recorded."""
    systems = (manifest.get("evaluation") or {}).get("retrieval", {}).get("systems", {})
    try:
        return float(systems[HYBRID_SYSTEM]["mrr"]) >= float(systems[LEXICAL_SYSTEM]["mrr"])
    except (KeyError, TypeError, ValueError):
        return True
