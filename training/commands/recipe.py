"""`codet5p-train recipe NAME`: corpus -> tokenizer -> stage 1 -> stage 2 -> instruct -> export, resumably.

Re-running the same command skips finished steps and resumes the current training stage from
its last checkpoint.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from training.paths import runs_root


NAME = "recipe"
HELP = "run corpus -> tokenizer -> stage 1 -> stage 2 -> instruct -> export, resumably"

def add_arguments(parser: argparse.ArgumentParser) -> None:
    from training.recipes import ABLATIONS, RECIPES

    parser.add_argument("name", choices=sorted(RECIPES), help="recipe (tiny: fixtures, minutes; small: this machine)")
    parser.add_argument("--work", type=Path, default=None,
                        help="work directory (default: <cache>/runs/recipe-NAME)")
    parser.add_argument("--corpus", type=Path, default=None,
                        help="use this existing corpus directory instead of building one")
    parser.add_argument("--until", default=None,
                        help="stop after this step: corpus, tokenizer, a stage name, or stages")
    parser.add_argument("--steps-scale", type=float, default=1.0, help="multiply every stage's steps")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="training device")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a training config field in every stage; VALUE is JSON "
                             "(e.g. batch_size=8 on a machine with less memory)")
    parser.add_argument("--ablation", default=None, choices=sorted(ABLATIONS),
                        help="run the recipe without one objective (no-clm: stage 1 without the causal LMs; "
                             "no-matching: stage 2 without matching)")
    parser.add_argument("--reuse", type=Path, default=None,
                        help="with --ablation: the work directory of the full run, whose stages before the "
                             "changed one are reused")


def run(args: argparse.Namespace) -> int:
    from training.checkpoint import CheckpointError
    from training.config import ConfigError
    from training.data.datasets import DataError
    from training.commands.pretrain import parse_overrides
    from training.pipeline import run_recipe

    suffix = f"-{args.ablation}" if args.ablation else ""
    work = args.work or runs_root() / f"recipe-{args.name}{suffix}"
    try:
        result = run_recipe(args.name, work, corpus=args.corpus, until=args.until,
                            steps_scale=args.steps_scale, device=args.device, ablation=args.ablation,
                            reuse=args.reuse, overrides=parse_overrides(args.set))
    except (ConfigError, CheckpointError, DataError, FileNotFoundError, ValueError) as exc:
        print(f"codet5p-train recipe: error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0
