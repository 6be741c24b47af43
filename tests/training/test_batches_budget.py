"""Batch workers build exactly the in-process batches; a time budget calibrates the step count."""
from __future__ import annotations

import json
import time

import pytest

from training.budget import CALIBRATE_TO, StepBudget
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


def test_time_budget_calibrates_and_is_kept_on_resume(train_data, tmp_path):
    cfg = _cfg(train_data, steps=100_000, warmup_steps=CALIBRATE_TO, grad_accum=1, time_budget_s=6.0,
               objectives={"code2text": 1.0}, objective_args={}, mixture="sample")
    t = time.monotonic()
    result = train(cfg, tmp_path / "run")
    took = time.monotonic() - t
    record = json.loads((tmp_path / "run" / "budget.json").read_text())
    assert CALIBRATE_TO <= result.step == record["steps"] < 100_000
    assert record["seconds_per_step"] > 0 and record["calibrated_at_step"] == CALIBRATE_TO
    assert took < 6.0 * 1.25 + 60  # model load and save on a loaded machine, then the budget
    assert _rows(tmp_path / "run")[-1]["lr"] > 0
    # a second budget object for the same run reads the calibrated count instead of re-timing
    again = StepBudget(tmp_path / "run", 6.0, 100_000, start_step=0)
    assert again.calibrated and again.steps == record["steps"]


def test_budget_needs_warmup_covering_calibration(train_data):
    with pytest.raises(ConfigError, match="warmup_steps"):
        _cfg(train_data, time_budget_s=10.0, warmup_steps=2)
    with pytest.raises(ConfigError, match=">= 0"):
        _cfg(train_data, data_workers=-1)
