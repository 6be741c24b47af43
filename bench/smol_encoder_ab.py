"""Which shallow encoder: all-MiniLM-L6-v2 or the first layers of SmolLM2 (the paper's choice)?

    python bench/smol_encoder_ab.py --init <runs>/smol-cpu/init --pairs <corpus>/pairs/train.jsonl \\
        --heldout <corpus>/heldout/retrieval.jsonl --seconds 300 --out bench/results/smol-v2/encoder_ab.json

Both candidates are scored on held-out retrieval (query -> code, pool = `--limit` codes) with a
masked mean pool, first as imported (zero-shot), then after `--seconds` of the same in-batch
contrastive training on the same batches (batch 32, text <= 64 / code <= 128 tokens, AdamW
3e-5, a fresh Linear head for the SmolLM2 candidate). The SmolLM2 candidate is its first
`--layers` decoder layers run with bidirectional attention over the decoder tokenizer's ids,
as CodeT5+ builds its 2B+ encoders from a smaller decoder of the same family.
Reported: MRR zero-shot and trained, steps done and median seconds per step.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from report_tools import write_report  # noqa: E402


def _smollm_encoder(model, layers: int):
    """First `layers` SmolLM2 layers, bidirectional, mean-pooled, with a trainable head."""
    import torch
    from torch import nn

    from model.smol.modeling import rotary

    class Encoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = model.model.embed_tokens
            self.layers = nn.ModuleList(list(model.model.layers)[:layers])
            self.norm = model.model.norm
            self.head = nn.Linear(model.model_config.d_model, model.model_config.d_model)
            nn.init.eye_(self.head.weight)
            nn.init.zeros_(self.head.bias)
            self.c = model.model_config

        def forward(self, ids, mask):
            x = self.embed(ids)
            cos, sin = rotary(torch.arange(ids.shape[1]), self.c.head_dim, self.c.rope_theta)
            bias = torch.where(mask[:, None, None, :] > 0, 0.0, torch.finfo(x.dtype).min)
            for layer in self.layers:
                h, _ = layer.self_attn(layer.input_layernorm(x), cos, sin, bias, None)
                x = x + h
                x = x + layer.mlp(layer.post_attention_layernorm(x))
            x = self.norm(x)
            m = mask[..., None].to(x.dtype)
            return torch.nn.functional.normalize(self.head((x * m).sum(1) / m.sum(1)), dim=-1)

    return Encoder()


def _batches(tok, kind: str, texts, length: int):
    import torch

    from model.formats import pad_batch

    if kind == "minilm":
        rows, pad = tok.enc_batch(texts, length), tok.enc_pad_id
    else:
        rows, pad = [tok.dec_encode(t[:16 * length])[:length] or [0] for t in texts], 2
    ids, mask = pad_batch(rows, pad)
    return torch.tensor(ids), torch.tensor(mask)


def mrr(embed, rows: list[dict], batch: int = 32) -> float:
    import torch

    with torch.no_grad():
        q = torch.cat([embed([r["query"] for r in rows[i:i + batch]], 64) for i in range(0, len(rows), batch)])
        c = torch.cat([embed([r["code"] for r in rows[i:i + batch]], 256) for i in range(0, len(rows), batch)])
    sim = (q @ c.T).numpy()
    gold = np.diag(sim)[:, None]
    ranks = 1 + (sim > gold).sum(1)
    return float(np.mean(1.0 / ranks))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--init", type=Path, required=True, help="smol model directory (both checkpoints)")
    parser.add_argument("--pairs", type=Path, required=True)
    parser.add_argument("--heldout", type=Path, required=True, help="held-out retrieval.jsonl")
    parser.add_argument("--seconds", type=float, default=300, help="training budget per candidate")
    parser.add_argument("--layers", type=int, default=6, help="SmolLM2 layers in its candidate encoder")
    parser.add_argument("--limit", type=int, default=500, help="held-out pool size")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    import torch

    from model.smol.model_dir import load_smol_dir
    from training.objectives.contrastive import info_nce
    from training.smol.trainer import read_pairs

    torch.set_num_threads(args.threads)
    model, tok, _ = load_smol_dir(args.init)
    held = [json.loads(line) for line in args.heldout.read_text().splitlines()[:args.limit]]
    pairs = read_pairs(args.pairs)
    report = {"pool": len(held), "budget_s": args.seconds, "candidates": {}}
    smol = _smollm_encoder(model, args.layers)
    candidates = {
        "all-MiniLM-L6-v2": ("minilm", lambda ids, mask: model.embed(ids, mask), list(model.encoder.parameters()) + list(model.proj.parameters()), model.encoder),
        f"SmolLM2 first {args.layers} layers": ("smollm", smol, list(smol.parameters()), smol),
    }
    for name, (kind, fn, params, module) in candidates.items():
        embed = lambda texts, length, kind=kind, fn=fn: fn(*_batches(tok, kind, texts, length))  # noqa: E731
        module.eval()
        zero = mrr(embed, held)
        for p in params:
            p.requires_grad = True
        opt = torch.optim.AdamW(params, lr=3e-5, weight_decay=0.01)
        scale = torch.tensor(20.0)
        module.train()
        t0, times, step = time.perf_counter(), [], 0
        while time.perf_counter() - t0 < args.seconds:
            s = time.perf_counter()
            rng = np.random.default_rng([5, step])
            batch = [pairs[i] for i in rng.choice(len(pairs), 32, replace=False)]
            t = embed([r["docstring"] for r in batch], 64)
            c = embed([r["code"] for r in batch], 128)
            loss = info_nce(t, c, t, c, 1.0 / scale)
            opt.zero_grad()
            loss.backward()
            opt.step()
            times.append(time.perf_counter() - s)
            step += 1
        module.eval()
        report["candidates"][name] = {"zero_shot_mrr": round(zero, 4), "trained_mrr": round(mrr(embed, held), 4),
                                      "steps": step, "median_s_per_step": round(statistics.median(times), 3),
                                      "trainable_parameters": sum(p.numel() for p in params)}
        print(name, report["candidates"][name], flush=True)
    write_report(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
