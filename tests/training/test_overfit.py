"""Each objective, trained alone through the real trainer on a handful of examples, overfits."""
from __future__ import annotations

import json

import pytest

from training.config import TrainConfig
from training.trainer import train

CASES = {
    "denoise": ("few_chunks", {}),
    "seq2seq_clm": ("few_chunks", {}),
    "decoder_clm": ("few_chunks", {}),
    "text2code": ("pairs", {}),
    "code2text": ("pairs", {}),
    "instruct": ("instructions", {}),
    "contrastive": ("pairs", {"queue_size": 0}),
    "matching": ("pairs", {}),
}


def _losses(run_dir):
    return [json.loads(l)["loss"] for l in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("objective", sorted(CASES))
def test_objective_overfits(objective, train_data, tmp_path):
    kind, args = CASES[objective]
    cfg = TrainConfig.from_dict({
        "stage": f"overfit-{objective}", "model": "tiny", "tokenizer": train_data["tokenizer"],
        "data": train_data[kind], "objectives": {objective: 1.0},
        "objective_args": {objective: args} if args else {},
        "steps": 40, "batch_size": 4, "lr": 3e-3, "warmup_steps": 2, "weight_decay": 0.0,
        "chunk_length": 64, "min_chunk_length": 4, "checkpoint_every": 100, "log_every": 100, "threads": 1,
        "device": "cpu"})
    result = train(cfg, tmp_path / "run")
    losses = _losses(tmp_path / "run")
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert result.final_dir is not None and (result.final_dir / "model.safetensors").is_file()
    assert last < 0.5 * first, f"{objective}: loss {first:.3f} -> {last:.3f}"
