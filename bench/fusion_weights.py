"""How to fuse the embedding with BM25: reciprocal-rank fusion weights, measured on a split.

    python bench/fusion_weights.py BUNDLE --data <retrieval-format JSONL> [--weights 1,0.5,0.25,0.1]
    python bench/fusion_weights.py BUNDLE --pairs <corpus>/pairs/valid.jsonl --limit 1000

Embeds queries and codes once with the bundle, scores BM25 once, then reports MRR of the
embedding alone, BM25 alone, and weighted RRF (`w_sem / (k + rank_sem) + w_lex / (k + rank_lex)`,
k = 60) for each lexical weight. Choose the weight on a validation split (`--pairs` builds one
from pairs: query = docstring sentence, pool = their code, `--limit` distinct pairs sampled over
the whole file with seed 0), then report it on the test split.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from report_tools import write_report  # noqa: E402


def rows_from(args: argparse.Namespace) -> list[dict]:
    if args.data:
        return [json.loads(line) for line in args.data.read_text().splitlines()[:args.limit]]
    from training.eval.data import sample_rows

    seen, rows = set(), []
    for line in args.pairs.read_text().splitlines():
        row = json.loads(line)
        if row["code"] in seen:
            continue
        seen.add(row["code"])
        rows.append({"query": row["docstring"], "code": row["code"]})
    return sample_rows(rows, args.limit)  # spread over the file: it is ordered by package




def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", type=Path, help="retrieval JSONL ({query, code})")
    src.add_argument("--pairs", type=Path, help="pairs JSONL ({docstring, code}) to build a split from")
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--weights", default="1,0.5,0.35,0.25,0.1", help="lexical weights to try")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    from model.runtime import Runtime
    from training.eval.baselines import bm25_scores
    from training.eval.metrics import gold_ranks, retrieval_metrics
    from training.eval.retrieval import rrf_scores

    rows = rows_from(args)
    rt = Runtime.load(args.bundle, threads=args.threads)
    q = rt.embed([r["query"] for r in rows])
    c = rt.embed([r["code"] for r in rows])
    sem = q.astype(np.float64) @ c.astype(np.float64).T
    lex = bm25_scores([r["query"] for r in rows], [r["code"] for r in rows])
    report = {"n": len(rows), "data": (args.data or args.pairs).name,
              "embedding": retrieval_metrics(gold_ranks(sem))["mrr"], "bm25": retrieval_metrics(gold_ranks(lex))["mrr"],
              "rrf": {w: retrieval_metrics(gold_ranks(rrf_scores(sem, lex, weights=(1.0, float(w)))))["mrr"]
                      for w in args.weights.split(",")}}
    write_report(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
