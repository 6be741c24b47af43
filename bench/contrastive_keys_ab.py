#!/usr/bin/env python
"""A/B of the contrastive objective's batch keys on held-out retrieval.

From one starting model (e.g. the default model's stage 1), train the contrastive objective alone
twice with the same data, seed and steps, once with online batch keys (the default) and once with
momentum-encoder batch keys (the paper's form), then score both on a retrieval held-out set with
the embedding alone. Both arms run in the same invocation, one after the other.

    python bench/contrastive_keys_ab.py --init MODEL_DIR --pairs PAIRS.jsonl \
        --heldout heldout/retrieval.jsonl --steps 150 --out bench/results/contrastive_keys_ab.json
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def run_arm(online: bool, args: argparse.Namespace, work: Path) -> dict:
    from report_tools import contrastive_config
    from training.eval.data import read_jsonl
    from training.eval.retrieval import evaluate_retrieval
    from training.eval.torch_runtime import TorchRuntime
    from training.trainer import train

    cfg = contrastive_config("contrastive-ab", args.init, args.pairs, args.steps, args.batch_size, args.lr,
                             args.threads, {"queue_size": args.queue, "online_keys": online},
                             warmup_steps=15, checkpoint_every=1_000_000)
    t = time.monotonic()
    result = train(cfg, work / ("online" if online else "momentum"))
    took = time.monotonic() - t
    rows = read_jsonl(args.heldout, "retrieval")
    report = evaluate_retrieval(rows, TorchRuntime(result.final_dir, "cpu"), rerank_k=0)
    return {"batch_keys": "online" if online else "momentum", "train_s": round(took, 1),
            "final_loss": result.last_loss, "heldout": report.systems["codet5p embedding"]}


def main() -> None:
    from report_tools import write_report

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--init", type=Path, required=True, help="starting model directory")
    parser.add_argument("--pairs", type=Path, required=True, help="training pairs JSONL")
    parser.add_argument("--heldout", type=Path, required=True, help="retrieval held-out JSONL")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--queue", type=int, default=1024)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        arms = [run_arm(True, args, Path(tmp)), run_arm(False, args, Path(tmp))]
    out = {"init": str(args.init), "steps": args.steps, "batch_size": args.batch_size,
           "queue": args.queue, "lr": args.lr, "arms": arms}
    write_report(out, args.out)


if __name__ == "__main__":
    main()
