"""What the likelihood re-rank of search costs, and whether it holds up typing (engine, in process).

    python bench/search_rerank_typing.py [--model BUNDLE] [--workspace examples/workspace] [--rounds 3]

On a small workspace indexed with the model (default: the shipped bundle, which records a
likelihood re-rank), in one run:
- sentence search latency with the re-rank on and off (`search.rerank`), medians;
- completion latency alone, and when the completion is asked for 0.2 s after a re-ranked search
  has started (the search's candidates are model jobs queued behind completions), medians and
  their ratio. The two sets ask the same prompts (cut points in one file) in fresh documents,
  with a different first line, so neither hits a cache.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.report_tools import write_report  # noqa: E402
from lsp_server.engine import Engine  # noqa: E402
from lsp_server.options import ServerOptions  # noqa: E402

QUERIES = ["read the configuration file", "validate an isbn checksum", "fetch books over http",
           "lend a book to a member", "search books by title", "load books from a csv file"]
SOURCE = REPO / "examples" / "workspace" / "bookshelf" / "catalog.py"


def _median_ms(xs: list[float]) -> float:
    return round(statistics.median(xs) * 1000, 1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="bundle (default: the shipped one)")
    ap.add_argument("--workspace", type=Path, default=REPO / "examples" / "workspace")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        options = ServerOptions()
        options.model.path, options.model.threads = args.model, args.threads
        options.index.cache_dir = tmp
        engine = Engine(options)
        try:
            engine.load_model()
            if engine.runtime is None:
                print(engine.model_message, file=sys.stderr)
                return 1
            engine.add_root(args.workspace)
            engine.index_all()
            lines = SOURCE.read_text().splitlines()
            cuts = [(i, len(line) // 2) for i, line in enumerate(lines) if len(line.strip()) > 20]
            report: dict = {"model": args.model or "shipped default", "threads": args.threads,
                            "queries": len(QUERIES) * args.rounds}
            for label, on in (("search_rerank_on", True), ("search_rerank_off", False)):
                options.search.rerank = on
                times = []
                for q in QUERIES * args.rounds:
                    t = time.perf_counter()
                    engine.search(q)
                    times.append(time.perf_counter() - t)
                report[f"{label}_p50_ms"] = _median_ms(times)
            report["searchRerank"] = dict(engine.rerank_counts)
            options.search.rerank = True

            def complete(k: int, run: str) -> float:
                """The k-th cut point; `run` changes the first line only (no cache hits, same length)."""
                line, col = cuts[k % len(cuts)]
                text = "\n".join([f"# {run} {k:04d}"] + lines[:line] + [lines[line][:col]])
                t = time.perf_counter()
                engine.complete(text, line + 1, col, "python", doc=f"{run}-{k}")
                return time.perf_counter() - t

            n = len(QUERIES) * args.rounds
            alone = [complete(k, "alone") for k in range(n)]
            during = []
            for k in range(n):
                search = threading.Thread(target=engine.search, args=(QUERIES[k % len(QUERIES)] + " now",))
                search.start()
                time.sleep(0.2)
                during.append(complete(k, "during"))
                search.join()
            report.update(completion_alone_p50_ms=_median_ms(alone), completion_during_search_p50_ms=_median_ms(during),
                          completion_during_over_alone=round(statistics.median(during) / statistics.median(alone), 2),
                          searchRerankAfter=dict(engine.rerank_counts))
        finally:
            engine.close()
    write_report(report, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
