"""Frozen vs unfrozen SmolLM2 decoder, and 1 vs 3 cross-attention layers, under one CPU budget.

    python bench/smol_frozen_ab.py --init <runs>/smol-cpu/init --pairs <corpus>/pairs/train.jsonl \\
        --heldout <corpus>/heldout/summarize.jsonl --seconds 600 --out bench/results/smol-v2/frozen_ab.json

Both arms start from the same smol model directory and train code->text alone on the same
batches for the same wall-clock budget: (a) the recipe's trainable parts (encoder,
cross-attention in the top layer, heads), (b) everything, the 135M decoder included, and with
`--x3-init` (a `smol-x3` directory: `codet5p-train smol-recipe --config smol-x3 --until init
--work W`) (c) the trainable parts with cross-attention in the top three layers. Reported per arm: trainable
parameters, steps done, median seconds per step, and the teacher-forced code->text loss on the
first `--limit` held-out functions (the zero-shot model's loss beside them).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from report_tools import write_report  # noqa: E402


def heldout_loss(model_dir: Path, rows: list[dict], batch: int = 8) -> float:
    import torch

    from model.smol.model_dir import load_smol_dir
    from training.smol.objectives import code_to_text

    model, tok, _ = load_smol_dir(model_dir)
    total, n = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(rows), batch):
            chunk = rows[i:i + batch]
            loss, _ = code_to_text(model, tok, chunk, 128, 192, 48)
            total += float(loss) * len(chunk)
            n += len(chunk)
    return total / max(n, 1)


def median_step_seconds(run: Path) -> float:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    times = [b["elapsed_s"] - a["elapsed_s"] for a, b in zip(rows, rows[1:])]
    return statistics.median(times) if times else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--init", type=Path, required=True, help="smol model directory to start from")
    parser.add_argument("--pairs", type=Path, required=True, help="training pairs JSONL")
    parser.add_argument("--heldout", type=Path, required=True, help="held-out summarize.jsonl (code, docstring)")
    parser.add_argument("--seconds", type=float, default=600, help="wall-clock budget per arm")
    parser.add_argument("--limit", type=int, default=64, help="held-out functions scored")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--x3-init", type=Path, default=None, help="smol-x3 model directory for arm (c)")
    parser.add_argument("--work", type=Path, default=None, help="keep the runs here (default: a temp dir)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    import torch

    from model.smol.model_dir import load_smol_dir
    from model.smol.modeling import count_parameters
    from training.smol.trainer import SmolStageConfig, train_stage

    torch.set_num_threads(args.threads)
    rows = [json.loads(line) for line in args.heldout.read_text().splitlines()[:args.limit]]
    work = args.work or Path(tempfile.mkdtemp(prefix="smol-frozen-ab-"))
    report = {"budget_s": args.seconds, "heldout": args.heldout.name, "heldout_n": len(rows),
              "zero_shot_loss": heldout_loss(args.init, rows), "arms": {}}
    arms = [("frozen decoder", False, args.init), ("unfrozen decoder", True, args.init)]
    if args.x3_init:
        arms.append(("frozen decoder, cross-attention in 3 layers", False, args.x3_init))
    for arm, unfrozen, init in arms:
        cfg = SmolStageConfig(name=arm.replace(" ", "-").replace(",", ""), init_from=str(init), pairs=str(args.pairs),
                              objectives={"code_to_text": 1.0}, steps=100_000, batch_size=8, gen_batch_size=8,
                              lr=2e-5, new_lr=1e-3, warmup_steps=5, time_budget_s=args.seconds,
                              checkpoint_every=100_000, train_decoder=unfrozen, threads=args.threads, seed=7)
        final = train_stage(cfg, work / cfg.name)
        model, _, info = load_smol_dir(final)
        if unfrozen:
            model_params = count_parameters(model)
        else:
            model.freeze_decoder()
            model_params = count_parameters(model, trainable_only=True)
        report["arms"][arm] = {"trainable_parameters": model_params, "steps": info["stages"][-1]["steps"],
                               "median_s_per_step": round(median_step_seconds(work / cfg.name), 3),
                               "heldout_loss": round(heldout_loss(final, rows), 4)}
        print(arm, report["arms"][arm], flush=True)
    write_report(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
