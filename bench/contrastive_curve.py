#!/usr/bin/env python
"""Learning curve of the contrastive objective alone, scored on held-out retrieval.

From one starting model (e.g. the default model's stage 1), train only the text-code contrastive
objective with the project's trainer, keep a checkpoint every `--every` steps, and score the
starting model and each checkpoint on a retrieval held-out set with the embedding alone (MRR,
R@k, and the mean pairwise cosine of the code embeddings, which is near 1 when the embedding is
collapsed). Shows whether, and how fast, the embedding learns from a given start.

    python bench/contrastive_curve.py --init MODEL_DIR --pairs PAIRS.jsonl \
        --heldout heldout/retrieval.jsonl --steps 400 --every 100 --out curve.json
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def score(model_dir: Path, rows: list[dict]) -> dict:
    from training.eval.metrics import gold_ranks, retrieval_metrics
    from training.eval.torch_runtime import TorchRuntime

    runtime = TorchRuntime(model_dir, "cpu")
    q = np.asarray(runtime.embed([r["query"] for r in rows]), dtype=np.float64)
    c = np.asarray(runtime.embed([r["code"] for r in rows]), dtype=np.float64)
    metrics = retrieval_metrics(gold_ranks(q @ c.T))
    cc = c @ c.T
    off = cc[~np.eye(len(rows), dtype=bool)]
    return {**{k: round(float(v), 4) for k, v in metrics.items()}, "code_cosine_mean": round(float(off.mean()), 4)}


def main() -> None:
    from report_tools import chance_mrr, contrastive_config, write_report
    from training.eval.data import read_jsonl
    from training.trainer import train

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--init", type=Path, required=True, help="starting model directory")
    parser.add_argument("--pairs", type=Path, required=True, help="training pairs JSONL")
    parser.add_argument("--heldout", type=Path, required=True, help="retrieval held-out JSONL")
    parser.add_argument("--limit", type=int, default=1000, help="held-out rows (the pool size)")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--queue", type=int, default=0, help="momentum queue (0 = in-batch negatives only)")
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--code-length", type=int, default=128)
    parser.add_argument("--text-length", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    rows = read_jsonl(args.heldout, "retrieval")[: args.limit]
    cfg = contrastive_config("contrastive-curve", args.init, args.pairs, args.steps, args.batch_size, args.lr,
                             args.threads, {"queue_size": args.queue, "code_length": args.code_length,
                                            "text_length": args.text_length},
                             warmup_steps=20, checkpoint_every=args.every, keep_checkpoints=10_000)
    points = [{"step": 0, **score(args.init, rows)}]
    print(json.dumps(points[-1]), file=sys.stderr, flush=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        for stop in range(args.every, args.steps + 1, args.every):
            result = train(cfg, run, stop_after=stop)
            model_dir = run / "checkpoints" / f"step-{stop:07d}"
            if not model_dir.is_dir():
                model_dir = result.final_dir
            points.append({"step": stop, "loss": round(result.last_loss, 4),
                           "train_s": round(time.monotonic() - started, 1), **score(model_dir, rows)})
            print(json.dumps(points[-1]), file=sys.stderr, flush=True)
    out = {"init": str(args.init), "pool": len(rows), "chance_mrr": chance_mrr(len(rows)),
           "batch_size": args.batch_size, "queue": args.queue, "lr": args.lr,
           "code_length": args.code_length, "text_length": args.text_length, "points": points}
    write_report(out, args.out)


if __name__ == "__main__":
    main()
