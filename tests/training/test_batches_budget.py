"""Batch workers build exactly the in-process batches; a time budget calibrates the step count."""
from __future__ import annotations

import json

import pytest

from training.budget import StepBudget
from training.config import ConfigError, TrainConfig
from training.trainer import train


def _cfg(train_data, **kw) -> TrainConfig:
    base = {"stage": "test", "model": "tiny", "tokenizer": train_data["tokenizer"],
            "data": train_data["pairs"], "mixture": "sum",
            "objectives": {"contrastive": 1.0, "matching": 1.0, "code2text": 1.0},
            "objective_args": {"contrastive": {"queue_size": 8}},
            "steps": 5, "batch_size": 2, "grad_accum": 2, "lr": 1e-3, "warmup_steps": 2,
            "checkpoint_every": 100, "log_every": 1, "threads": 1, "device": "cpu"}
    base.update(kw)
    return TrainConfig.from_dict(base)


def _rows(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_worker_batches_equal_in_process_batches(train_data, tmp_path):
    inline = train(_cfg(train_data), tmp_path / "inline")
    forked = train(_cfg(train_data, data_workers=2), tmp_path / "forked")
    assert forked.step == inline.step == 5
    a, b = _rows(tmp_path / "inline"), _rows(tmp_path / "forked")
    assert [r["loss"] for r in b] == pytest.approx([r["loss"] for r in a], abs=1e-6)
    assert [r["tokens"] for r in b] == [r["tokens"] for r in a]


def test_sample_mixture_with_workers_matches(train_data, tmp_path):
    kw = {"data": train_data["chunks"], "mixture": "sample", "chunk_length": 48,
          "objectives": {"denoise": 1.0, "decoder_clm": 1.0, "seq2seq_clm": 1.0}, "objective_args": {}}
    train(_cfg(train_data, **kw), tmp_path / "inline")
    train(_cfg(train_data, data_workers=3, **kw), tmp_path / "forked")
    a, b = _rows(tmp_path / "inline"), _rows(tmp_path / "forked")
    assert [r["loss"] for r in b] == pytest.approx([r["loss"] for r in a], abs=1e-6)


def test_time_budget_ends_the_stage_on_time_with_lr_at_zero(train_data, tmp_path):
    cfg = _cfg(train_data, steps=100_000, warmup_steps=3, grad_accum=1, time_budget_s=5.0,
               objectives={"code2text": 1.0}, objective_args={}, mixture="sample")
    result = train(cfg, tmp_path / "run")
    record = json.loads((tmp_path / "run" / "budget.json").read_text())
    assert 3 < result.step == record["steps"] < 100_000
    assert 5.0 <= record["elapsed_s"] < 5.0 + 30 and record["seconds_per_step"] > 0
    lrs = [r["lr"] for r in _rows(tmp_path / "run")]
    assert lrs[:3] == pytest.approx([1e-3 / 3, 2e-3 / 3, 1e-3])  # step-based warm-up
    assert all(a >= b for a, b in zip(lrs[3:], lrs[4:])) and lrs[-1] < 0.3e-3  # then decays with time
    assert json.loads((tmp_path / "run" / "final" / "config.json").read_text())["steps"] == result.step


def test_budget_without_budget_uses_the_step_schedule(tmp_path):
    from training.trainer import lr_at

    cfg = TrainConfig(steps=10, warmup_steps=2, lr=1.0, tokenizer="x")
    b = StepBudget(tmp_path, 0.0, 10, 0)
    assert [b.lr(s, cfg) for s in range(10)] == [lr_at(s, cfg) for s in range(10)]
    b.after_step(3)
    assert b.steps == 10 and not (tmp_path / "budget.json").exists()


def test_bad_worker_count_is_refused(train_data):
    with pytest.raises(ConfigError, match=">= 0"):
        _cfg(train_data, data_workers=-1)
