#!/usr/bin/env python
"""Can a model config learn to read its encoder, at a given learning rate? A copy task.

Each example is a sequence of random tokens; the decoder must reproduce it. Without reading the
encoder the best possible loss is ln(vocabulary range) (`chance_loss`), so a loss that stays
near it after hundreds of steps means the optimizer has not made the cross-attention useful.
Every learning rate starts from the same initial weights and sees the same batches (AdamW,
constant learning rate, no warm-up), so the rates compare within one run.

    python bench/copy_task.py --config small --lrs 1e-3,3e-4,1e-4 --steps 600 --out copy.json
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

LOW, HIGH = 10, 400  # token ids drawn from [LOW, HIGH): no special tokens


def copy_batch(gen, n: int, length: int, eos_id: int, start_id: int):
    import torch

    x = torch.randint(LOW, HIGH, (n, length), generator=gen)
    x = torch.cat([x, torch.full((n, 1), eos_id)], 1)
    dec = torch.cat([torch.full((n, 1), start_id), x[:, :-1]], 1)
    return x, dec


def run(config_name: str, lr: float, steps: int, batch: int, length: int, every: int) -> list[dict]:
    import torch
    import torch.nn.functional as F

    from model.config import get_config
    from model.modeling import build_model

    cfg = get_config(config_name).with_vocab(600)
    model = build_model(cfg, seed=0).train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(0)
    curve, window = [], []
    for step in range(1, steps + 1):
        x, dec = copy_batch(gen, batch, length, cfg.eos_token_id, cfg.decoder_start_token_id)
        logits = model(input_ids=x, attention_mask=torch.ones_like(x), decoder_input_ids=dec, use_cache=False).logits
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), x.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        window.append(loss.item())
        if step % every == 0:
            curve.append({"step": step, "loss": round(sum(window) / len(window), 4)})
            window = []
            print(f"lr {lr:g} step {step} loss {curve[-1]['loss']}", file=sys.stderr, flush=True)
    return curve


def main() -> None:
    import torch

    from report_tools import write_report

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="small", help="model config name (model/config.py)")
    parser.add_argument("--lrs", default="1e-3,3e-4,1e-4", help="comma-separated learning rates")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--every", type=int, default=100, help="report the mean loss of each window of this many steps")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--length", type=int, default=10, help="tokens to copy")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    report = {"config": args.config, "batch_size": args.batch_size, "length": args.length,
              "chance_loss": round(math.log(HIGH - LOW), 4), "runs": {}}
    for lr in (float(v) for v in args.lrs.split(",")):
        started = time.monotonic()
        curve = run(args.config, lr, args.steps, args.batch_size, args.length, args.every)
        report["runs"][f"{lr:g}"] = {"curve": curve, "seconds": round(time.monotonic() - started, 1)}
    write_report(report, args.out)


if __name__ == "__main__":
    main()
