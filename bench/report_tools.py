"""Shared pieces of the training-diagnostic scripts in `bench/`: their common command line, model
labels without machine paths, chance MRR, the contrastive-only training config, and writing the
JSON report.

`model_labels([.../A/runs/stage1/final, .../B/runs/stage1/final])` gives
`["A/runs/stage1/final", "B/runs/stage1/final"]`: each label is the shortest path suffix that
no other directory shares, so `final` directories of different runs stay apart.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Sequence


def models_parser(doc: str, heldout_help: str, limit: int, limit_help: str) -> argparse.ArgumentParser:
    """`MODEL_DIR... --heldout X [--limit N] [--threads T] [--out JSON]`."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("models", type=Path, nargs="+", help="model directories")
    parser.add_argument("--heldout", type=Path, required=True, help=heldout_help)
    parser.add_argument("--limit", type=int, default=limit, help=limit_help)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON report here")
    return parser


def model_labels(directories: Sequence[Path]) -> list[str]:
    parts = [Path(d).resolve().parts for d in directories]
    labels = []
    for i, p in enumerate(parts):
        for n in range(1, len(p) + 1):
            label = "/".join(p[-n:])
            if all(j == i or "/".join(q[-n:]) != label for j, q in enumerate(parts)):
                break
        labels.append(label)
    return labels


def chance_mrr(pool: int) -> float:
    """Expected MRR of a random ranking of `pool` candidates with one gold each."""
    return round(sum(1 / k for k in range(1, pool + 1)) / pool, 4)


def contrastive_config(stage: str, init: Path, pairs: Path, steps: int, batch_size: int, lr: float,
                       threads: int, contrastive: dict[str, Any], **fields: Any) -> Any:
    """A CPU `TrainConfig` training only the contrastive objective from model directory `init`."""
    from training.config import TrainConfig

    return TrainConfig.from_dict({
        "stage": stage, "model": "small", "init_from": str(init), "data": str(pairs),
        "objectives": {"contrastive": 1.0}, "objective_args": {"contrastive": contrastive},
        "steps": steps, "batch_size": batch_size, "lr": lr, "log_every": 25, "threads": threads,
        "device": "cpu", "data_workers": 1, **fields})


def write_report(report: dict[str, Any], out: Path | None) -> None:
    """Print the report as JSON on stdout and, with `out`, also write it there."""
    text = json.dumps(report, indent=2)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
    print(text)
