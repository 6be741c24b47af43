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


def _trained_retrieval_mrr(train_data, tmp_path, online_keys: bool) -> float:
    from training.data.datasets import load_rows
    from training.eval.retrieval import evaluate_retrieval
    from training.eval.torch_runtime import TorchRuntime

    cfg = TrainConfig.from_dict({
        "stage": "contrastive", "model": "tiny", "tokenizer": train_data["tokenizer"],
        "data": train_data["pairs"], "objectives": {"contrastive": 1.0},
        "objective_args": {"contrastive": {"queue_size": 32, "momentum": 0.995, "online_keys": online_keys}},
        "steps": 60, "batch_size": 8, "lr": 3e-3, "warmup_steps": 2, "weight_decay": 0.0,
        "checkpoint_every": 100, "log_every": 100, "threads": 1, "device": "cpu"})
    result = train(cfg, tmp_path / f"online-{online_keys}")
    rows = [{"query": r["docstring"], "code": r["code"]} for r in load_rows(train_data["pairs"], ("docstring", "code"))][:32]
    report = evaluate_retrieval(rows, TorchRuntime(result.final_dir, "cpu"), rerank_k=0)
    return report.systems["codet5p embedding"]["mrr"]


def test_contrastive_trains_what_search_compares(train_data, tmp_path):
    """Search compares online text with online code embeddings. With the batch's keys taken from
    a 0.995 momentum encoder, a short run only aligns online embeddings with near-initial momentum
    ones; online keys align what search compares."""
    online = _trained_retrieval_mrr(train_data, tmp_path, online_keys=True)
    momentum = _trained_retrieval_mrr(train_data, tmp_path, online_keys=False)
    print(f"online keys MRR {online:.3f}, momentum keys MRR {momentum:.3f}")
    assert online >= 0.9 and online - momentum >= 0.1, (online, momentum)
