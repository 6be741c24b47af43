"""Engine-level search, embedding and hover micro-benchmark (no LSP client, no full re-index).

    python bench/engine_search.py --model BUNDLE [--files 400] [--symbols 100000] [--work DIR]

Builds once into `--work` (reused by later runs) an index of the first `--files` Python files
of the standard library (parse only), grown to `--symbols` symbols by copying them under other
paths, with one random unit vector per symbol content hash for the loaded model (latency does not
depend on the values). Then it times, in this process, with the model's own query embedding and
matching head:
- natural-language search with and without the matching re-rank, identifier search;
- embedding throughput of `--embed` real symbols of the index (what indexing is bound by);
- hover summaries of `--hovers` real functions (summary cache cold);
- indexing from scratch (parse, FTS, embed) of `--index-files` stdlib files.
Run it under `nice` on a shared machine; thread count follows `--threads`.
"""
from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import sysconfig
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.server import ID_QUERIES, NL_QUERIES, summary  # noqa: E402
from lsp_server.engine import Engine  # noqa: E402
from lsp_server.hover import HoverTarget  # noqa: E402
from lsp_server.indexer import symbol_embedding_text  # noqa: E402
from lsp_server.options import ServerOptions  # noqa: E402

try:  # also runs against older checkouts of the server (for before/after ratios)
    from lsp_server.indexer import EMBED_TOKENS, embedding_key  # noqa: E402
except ImportError:
    EMBED_TOKENS, embedding_key = 256, (lambda model_id: model_id)
    SORTED = False
else:
    SORTED = True


def build_index(engine: Engine, root: Path, files: int, target: int) -> dict:
    """Parse `files` stdlib files, copy symbols up to `target`, add random vectors."""
    ix = engine.add_root(root)
    ix.max_files = files
    t0 = time.perf_counter()
    report = ix.scan()
    conn = sqlite3.connect(ix.store.path)
    cols = [r[1] for r in conn.execute("PRAGMA table_info(symbols)") if r[1] != "id"]
    base = conn.execute("SELECT count(*) FROM symbols").fetchone()[0]
    copy = 0
    while conn.execute("SELECT count(*) FROM symbols").fetchone()[0] < target:
        copy += 1
        sel = ", ".join(f"'copy{copy}/' || path" if c == "path" else c for c in cols)
        conn.execute(f"INSERT INTO symbols ({', '.join(cols)}) SELECT {sel} FROM symbols "
                     f"WHERE path NOT LIKE 'copy%'")
        conn.commit()
    conn.close()
    hashes = [r[0] for r in ix.store.db.execute("SELECT DISTINCT hash FROM symbols")]
    rng = np.random.default_rng(0)
    dim = engine.runtime.config.embed_dim
    for start in range(0, len(hashes), 5000):
        chunk = hashes[start:start + 5000]
        vecs = rng.standard_normal((len(chunk), dim)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        ix.store.put_embeddings(embedding_key(engine.model_id), chunk, vecs)
    ix.version += 1
    return {"files": report.files_parsed, "base_symbols": base, "build_s": round(time.perf_counter() - t0, 1)}


def timed(fn, items, engine: Engine) -> list[float]:
    out = []
    for item in items:
        getattr(engine, "_query_vectors", {}).clear()  # every query pays its embedding
        for ix in engine.indexers:  # and its stemming
            getattr(ix.store, "_stems", {}).clear()
        t0 = time.perf_counter()
        fn(item)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="model bundle directory")
    parser.add_argument("--files", type=int, default=400)
    parser.add_argument("--symbols", type=int, default=100_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/codet5p-engine-bench"))
    parser.add_argument("--threads", type=int, default=None, help="ONNX Runtime threads (default: the server's)")
    parser.add_argument("--rounds", type=int, default=2, help="passes over the query lists")
    parser.add_argument("--embed", type=int, default=256, help="symbols to embed for throughput")
    parser.add_argument("--hovers", type=int, default=12, help="hover summaries to time")
    parser.add_argument("--index-files", type=int, default=40,
                        help="stdlib files to index from scratch (parse + FTS + embed) for throughput")
    parser.add_argument("--out", type=Path, help="write the JSON results here")
    args = parser.parse_args()

    root = Path(sysconfig.get_paths()["stdlib"])
    options = ServerOptions()
    options.model.path, options.model.threads = args.model, args.threads
    options.index.cache_dir = str(args.work / "cache")
    engine = Engine(options)
    engine.load_model()
    if engine.runtime is None:
        print(engine.model_message, file=sys.stderr)
        return 1
    result: dict = {"model": args.model, "config": engine.runtime.config.name, "threads": args.threads}
    marker = args.work / f"built-{embedding_key(engine.model_id)}-{args.files}-{args.symbols}"
    if not marker.exists():
        for old in (args.work / "cache").glob("index/*"):
            old.unlink()
        result["build"] = build_index(engine, root, args.files, args.symbols)
        marker.write_text("ok")
        engine.close()
        engine = Engine(options)
        engine.load_model()
    ix = engine.add_root(root)
    result["symbols"] = ix.store.counts()["symbols"]
    t0 = time.perf_counter()
    engine.search("warm up the vectors")
    result["first_search_ms"] = round((time.perf_counter() - t0) * 1000, 1)
    nl = NL_QUERIES * args.rounds
    for label, rerank in (("rerank", True), ("no_rerank", False)):
        options.search.rerank = rerank
        result[f"natural_language_{label}"] = summary(timed(engine.search, nl, engine))
    result["identifier"] = summary(timed(engine.search, ID_QUERIES * args.rounds, engine))

    rows = list(ix.store.db.query("SELECT * FROM symbols WHERE path NOT LIKE 'copy%' "
                                  "GROUP BY hash ORDER BY id LIMIT ?", [args.embed]))
    # what `Indexer.embed_missing` does: batches of `embed_batch_size` from a length-sorted chunk
    size = options.index.embed_batch_size
    t0 = time.perf_counter()
    batch_rows = sorted(rows, key=lambda r: len(r["code"]) + len(r["docstring"] or "")) if SORTED else rows
    for start in range(0, len(batch_rows), size):
        texts = [symbol_embedding_text(r) for r in batch_rows[start:start + size]]
        engine.runtime.embed(texts, size, EMBED_TOKENS)
    secs = time.perf_counter() - t0
    result["embedding"] = {"symbols": len(rows), "seconds": round(secs, 2),
                           "symbols_per_s": round(len(rows) / secs, 1)}

    funcs = [r for r in rows if r["kind"] in ("function", "method")][:args.hovers]
    lat = []
    for r in funcs:
        target = HoverTarget.from_row(r)
        target.hash = f"bench-{time.time()}-{r['id']}"  # cold summary cache
        t0 = time.perf_counter()
        engine.summary(target, time.monotonic() + 5.0)
        lat.append((time.perf_counter() - t0) * 1000)
    result["hover_summary"] = summary(lat)
    engine.close()

    import shutil
    fresh = args.work / "fresh-index"
    shutil.rmtree(fresh, ignore_errors=True)
    options.index.cache_dir = str(fresh)
    engine = Engine(options)
    engine.load_model()
    ix = engine.add_root(root)
    ix.max_files = args.index_files
    t0 = time.perf_counter()
    (report,) = engine.index_all()
    secs = time.perf_counter() - t0
    counts = ix.store.counts()
    result["indexing"] = {"files": report.files_parsed, "symbols": counts["symbols"],
                          "embeddings": counts["embeddings"], "seconds": round(secs, 2),
                          "symbols_per_s": round(counts["symbols"] / secs, 1)}
    engine.close()
    shutil.rmtree(fresh, ignore_errors=True)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
