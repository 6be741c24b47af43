"""Does the search index lose anything by holding its vectors as int8 rows? Quality and speed.

    python bench/vector_precision.py --data <corpus>/heldout/retrieval.jsonl [--limit 1000]
                                     [--index-db <cache>/index/<root>.sqlite] [--queries 50]
                                     [--out bench/results/vector_precision.json]

Quality: the held-out queries and code are embedded with the default bundle (`Runtime.embed`),
the code vectors stored as the index stores them (float16 blobs), then ranked for every query
over the whole pool three ways: float32 cosine of the model's vectors (the evaluation's),
float32 rows after the float16 store (the index before), and `lsp_server.search.VectorIndex`
(int8 rows with a scale each: the index now). MRR and R@1/10 of each, and how many queries
get the same top 10 as the float32 rows.

Speed and memory (with `--index-db`, a workspace index the server built, e.g. the standard
library's): the bytes of the rows in memory and the median ms of one nearest-neighbour search,
float32 rows (`matrix @ q`, the index before) against `VectorIndex.nearest`, in the same run,
and `VectorIndex.nearest` at each of `--chunks` rows widened at a time (`SCORE_CHUNK`).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def quality(data: Path, limit: int, threads: int) -> dict[str, Any]:
    from lsp_server.search import VectorIndex
    from lsp_server.store import blob_to_vector, vector_to_blob
    from model.runtime import Runtime, default_bundle_dir
    from training.eval.metrics import gold_ranks, retrieval_metrics

    rows = [json.loads(line) for line in data.read_text().splitlines() if line.strip()][:limit]
    rt = Runtime.load(str(default_bundle_dir()), threads=threads)
    t0 = time.perf_counter()
    queries = rt.embed([r["query"] for r in rows])
    codes = rt.embed([r["code"] for r in rows])
    embed_s = time.perf_counter() - t0
    stored = np.vstack([blob_to_vector(vector_to_blob(v), "float16") for v in codes])
    index = VectorIndex()
    index._append(np.arange(len(rows), dtype=np.int64), [f"f{i}.py" for i in range(len(rows))], stored)
    # [queries, pool] scores; the index's are those `VectorIndex.nearest` ranks by (row i = code i)
    scores = {"float32, model vectors": queries @ codes.T,
              "float32 rows after the float16 store": queries @ stored.T,
              "VectorIndex int8 rows": np.vstack([index.scores(q) for q in queries])}
    out: dict[str, Any] = {"rows": len(rows), "embed_seconds": round(embed_s, 1), "systems": {}}
    top10 = {name: np.argsort(-m, axis=1, kind="stable")[:, :10] for name, m in scores.items()}
    ref = top10["float32 rows after the float16 store"]
    for name, m in scores.items():
        row = {k: round(v, 4) for k, v in retrieval_metrics(gold_ranks(m), ks=(1, 10)).items()}
        row["same_top10_as_float16_store"] = round(float(np.mean(
            [set(a) == set(b) for a, b in zip(top10[name].tolist(), ref.tolist())])), 4)
        out["systems"][name] = row
    return out


def speed(db: Path, queries: int, chunks: list[int]) -> dict[str, Any]:
    import lsp_server.search as search
    from lsp_server.search import VectorIndex
    from lsp_server.store import Store

    store = Store(db)
    model = store.db.execute("SELECT model FROM embeddings GROUP BY model ORDER BY count(*) DESC LIMIT 1").fetchone()[0]
    ids, paths, matrix = store.embedding_rows(model)
    index = VectorIndex()
    index._append(ids, paths, matrix)
    rng = np.random.default_rng(0)
    picks = rng.choice(len(ids), size=queries, replace=False)
    qs = [matrix[i] + 0.05 * rng.standard_normal(matrix.shape[1]).astype(np.float32) for i in picks]
    times: dict[str, list[float]] = {"float32 rows": [], "VectorIndex int8 rows": []}
    same = 0
    default_chunk = search.SCORE_CHUNK
    by_chunk: dict[str, float] = {}
    for chunk in chunks:  # rows widened at a time
        search.SCORE_CHUNK = chunk
        index.nearest(qs[0], 10)
        by_chunk[str(chunk)] = round(statistics.median(
            _timed(lambda q=q: index.nearest(q, 10)) for q in qs), 2)
    search.SCORE_CHUNK = default_chunk
    for _ in range(2):  # the first pass warms both
        for name in times:
            times[name].clear()
        for q in qs:
            t0 = time.perf_counter()
            scores = matrix @ q
            top = np.argpartition(-scores, 9)[:10]
            a = ids[top[np.argsort(-scores[top])]]
            times["float32 rows"].append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            b = [sid for sid, _ in index.nearest(q, 10)]
            times["VectorIndex int8 rows"].append((time.perf_counter() - t0) * 1000)
            same += set(a.tolist()) == set(b)
    return {"vectors": len(ids), "dim": int(matrix.shape[1]), "queries": queries,
            "ms_per_search": {k: round(statistics.median(v), 2) for k, v in times.items()},
            "mb": {"float32 rows": round(matrix.nbytes / 2**20, 1),
                   "VectorIndex int8 rows": round((index.matrix[:index.n].nbytes + index.scales[:index.n].nbytes) / 2**20, 1)},
            "same_top10": f"{same // 2}/{queries}", "score_chunk": default_chunk,
            "ms_per_search_by_chunk_rows": by_chunk}


def _timed(fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="held-out retrieval.jsonl ({query, code} rows)")
    ap.add_argument("--limit", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--index-db", default=None, help="a workspace index (.sqlite) for the speed and memory rows")
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--chunks", default="256,1024,4096,16384", help="chunk sizes (rows) to time VectorIndex at")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "vector_precision.json"))
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    report: dict[str, Any] = {"bench": "vector_precision", "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                              "quality": quality(Path(args.data), args.limit, args.threads)}
    if args.index_db:
        report["speed"] = speed(Path(args.index_db), args.queries, [int(c) for c in args.chunks.split(",") if c])
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
