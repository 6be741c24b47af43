#!/usr/bin/env python
"""How much a model's decoder relies on its encoder: teacher-forced loss with each example's own
encoder input against the loss with another example's.

For code->text (held-out `summarize` rows: code in, first docstring sentence out) and span
denoising (held-out code, T5 span corruption), the script scores batches twice: as built, and
with the encoder inputs rolled by one row, so each target is decoded from another function.
`gain_nats` = mismatched - matched loss: near 0 means the decoder writes the same thing whatever
the encoder says (an unconditional language model), so summaries cannot describe the code, and
encoder states (which the embedding head reads) have had little reason to carry the input.

    python bench/encoder_reliance.py MODEL_DIR [MODEL_DIR...] --heldout <corpus>/heldout
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def matched_and_mismatched(model: Any, objective: Any, samples: list, batch_size: int = 32) -> dict[str, float]:
    """Mean teacher-forced loss with each row's own encoder input, and with the next row's."""
    import torch

    from training.objectives.base import seq2seq_loss

    rng = np.random.default_rng(0)
    same, other = [], []
    for i in range(0, len(samples), batch_size):
        chunk = samples[i:i + batch_size]
        if len(chunk) < 2:  # a lone example has no other row to borrow from
            break
        batch = objective.build(chunk, rng)
        rolled = {**batch, "input_ids": batch["input_ids"].roll(1, 0),
                  "attention_mask": batch["attention_mask"].roll(1, 0)}
        with torch.no_grad():
            same.append(float(seq2seq_loss(model, batch)[0]))
            other.append(float(seq2seq_loss(model, rolled)[0]))
    matched, mismatched = float(np.mean(same)), float(np.mean(other))
    return {"matched": round(matched, 4), "mismatched": round(mismatched, 4),
            "gain_nats": round(mismatched - matched, 4)}


def main() -> None:
    import torch

    from model.modeling import load_model_dir
    from report_tools import model_labels, models_parser, write_report
    from training.eval.data import read_jsonl
    from training.objectives import build_objective

    args = models_parser(__doc__, "<corpus>/heldout (summarize.jsonl, retrieval.jsonl)", 256,
                         "examples per task").parse_args()
    torch.set_num_threads(args.threads)
    summaries = read_jsonl(args.heldout / "summarize.jsonl", "summarize")[: args.limit]
    codes = [r["code"] for r in read_jsonl(args.heldout / "retrieval.jsonl", "retrieval")[: args.limit]]
    report: dict[str, Any] = {"examples": args.limit, "models": {}}
    for directory, label in zip(args.models, model_labels(args.models)):
        model, tok = load_model_dir(directory)
        model.eval()
        report["models"][label] = {
            "code2text": matched_and_mismatched(model, build_objective("code2text", tok, model),
                                                [{"code": r["code"], "docstring": r["docstring"]} for r in summaries]),
            "denoise": matched_and_mismatched(model, build_objective("denoise", tok, model),
                                              [tok.encode(c)[:256] for c in codes]),
        }
    write_report(report, args.out)


if __name__ == "__main__":
    main()
