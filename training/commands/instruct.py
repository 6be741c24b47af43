"""`codet5p-train instruct`: build decontaminated instruction data from train pairs and tune a model."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


NAME = "instruct"
HELP = "instruction-tune a checkpoint"

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--init-from", type=Path, required=True, help="model directory to tune (e.g. runs/stage2/final)")
    parser.add_argument("--pairs", type=Path, required=True, help="train pairs JSONL from `codet5p-train corpus`")
    parser.add_argument("--run-dir", type=Path, required=True, help="run directory")
    parser.add_argument("--data", type=Path, default=None,
                        help="instruction JSONL to write/reuse (default: <run-dir>/instructions.jsonl)")
    parser.add_argument("--ngram", type=int, default=13, help="HumanEval decontamination n-gram length (words)")
    parser.add_argument("--max-examples", type=int, default=0, help="cap on instruction examples (0 = all)")
    parser.add_argument("--steps", type=int, default=1000, help="optimizer steps")
    parser.add_argument("--batch-size", type=int, default=8, help="examples per micro-batch")
    parser.add_argument("--lr", type=float, default=1e-4, help="peak learning rate")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="device")
    parser.add_argument("--only-data", action="store_true", help="build the instruction data and stop")


def run(args: argparse.Namespace) -> int:
    from training.checkpoint import CheckpointError
    from training.config import ConfigError, TrainConfig
    from training.data.datasets import DataError
    from training.instruct import build_instructions
    from training.trainer import train

    data = args.data or args.run_dir / "instructions.jsonl"
    try:
        if not data.is_file():
            stats = build_instructions(args.pairs, data, ngram=args.ngram, max_examples=args.max_examples)
            print(json.dumps({"instructions": str(data), **stats}))
        if args.only_data:
            return 0
        cfg = TrainConfig.from_dict({"stage": "instruct", "init_from": str(args.init_from), "data": str(data),
                                     "objectives": {"instruct": 1.0}, "steps": args.steps,
                                     "batch_size": args.batch_size, "lr": args.lr, "device": args.device,
                                     "warmup_steps": min(50, args.steps // 10)}, source="instruct arguments")
        result = train(cfg, args.run_dir)
    except (ConfigError, CheckpointError, DataError, ValueError, OSError) as exc:
        print(f"codet5p-train instruct: error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"final": str(result.final_dir), "loss": result.last_loss}))
    return 0
