"""`codet5p-train pretrain CONFIG --run-dir DIR`: run (or resume) one training stage from a JSON config.

Launch with `torchrun --nproc_per_node N -m training.cli pretrain ...` for DDP (gloo on CPU).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

NAME = "pretrain"
HELP = "run one training stage (stage1 / stage2) from a config"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", type=Path, help="training config JSON (fields of training.config.TrainConfig)")
    parser.add_argument("--run-dir", type=Path, required=True,
                        help="run directory (resolved config, metrics, checkpoints, final model)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config field; VALUE is JSON (e.g. steps=50, device=\"cpu\")")
    parser.add_argument("--stop-after", type=int, default=None,
                        help="checkpoint and stop after this step (resume later with the same command)")


def parse_overrides(items: list[str]) -> dict:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set {item!r}: expected KEY=VALUE")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def run(args: argparse.Namespace) -> int:
    from training.checkpoint import CheckpointError
    from training.config import ConfigError, TrainConfig
    from training.data.datasets import DataError
    from training.trainer import train

    try:
        base = json.loads(args.config.read_text(encoding="utf-8"))
        cfg = TrainConfig.from_dict({**base, **parse_overrides(args.set)}, source=str(args.config))
    except OSError as exc:
        print(f"codet5p-train pretrain: error: {args.config}: cannot read ({exc.strerror})", file=sys.stderr)
        return 2
    except json.JSONDecodeError as exc:
        print(f"codet5p-train pretrain: error: {args.config}: not valid JSON ({exc})", file=sys.stderr)
        return 2
    except (ConfigError, ValueError) as exc:
        print(f"codet5p-train pretrain: error: {exc}", file=sys.stderr)
        return 2
    try:
        result = train(cfg, args.run_dir, stop_after=args.stop_after)
    except (CheckpointError, DataError, ConfigError) as exc:
        print(f"codet5p-train pretrain: error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"run_dir": str(result.run_dir), "step": result.step, "loss": result.last_loss,
                      "tokens_per_s": round(result.tokens_per_s, 1),
                      "final": str(result.final_dir) if result.final_dir else None}))
    return 0
