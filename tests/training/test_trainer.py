"""The trainer: exact resume, DDP == single process, run directory, schedule, clear errors."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from training.checkpoint import CheckpointError
from training.config import ConfigError, TrainConfig
from training.trainer import lr_at, train

ROOT = Path(__file__).resolve().parents[2]


def _cfg(train_data, **kw) -> TrainConfig:
    base = {"stage": "test", "model": "tiny", "tokenizer": train_data["tokenizer"],
            "data": train_data["chunks"], "objectives": {"denoise": 1.0, "decoder_clm": 1.0},
            "steps": 6, "batch_size": 2, "lr": 1e-3, "warmup_steps": 2, "chunk_length": 48,
            "checkpoint_every": 3, "log_every": 1, "threads": 1, "device": "cpu"}
    base.update(kw)
    return TrainConfig.from_dict(base)


def _losses(run_dir: Path) -> list[float]:
    return [json.loads(l)["loss"] for l in (run_dir / "metrics.jsonl").read_text().splitlines()]


def _weights(model_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(model_dir / "model.safetensors"))


def test_resume_is_exact(train_data, tmp_path):
    # stage 2 with dropout, momentum encoder, queues and learned temperature: all must resume
    cfg = _cfg(train_data, data=train_data["pairs"], mixture="sum",
               objectives={"contrastive": 1.0, "matching": 1.0, "text2code": 1.0},
               objective_args={"contrastive": {"queue_size": 8}}, model_overrides={"dropout_rate": 0.1})
    full = train(cfg, tmp_path / "full")
    first = train(cfg, tmp_path / "split", stop_after=3)
    assert first.step == 3 and first.final_dir is None
    assert (tmp_path / "split" / "checkpoints" / "LATEST").read_text() == "step-0000003"
    second = train(cfg, tmp_path / "split")
    assert second.step == 6
    assert _losses(tmp_path / "split") == pytest.approx(_losses(tmp_path / "full"), abs=1e-6)
    a, b = _weights(full.final_dir), _weights(second.final_dir)
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_run_directory_contents(train_data, tmp_path):
    result = train(_cfg(train_data, steps=4, checkpoint_every=2, keep_checkpoints=1), tmp_path / "run")
    run = tmp_path / "run"
    assert json.loads((run / "resolved_config.json").read_text())["steps"] == 4
    assert (run / "git_revision.txt").read_text().strip()
    rows = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert all(r["tokens_per_s"] > 0 and "eta_s" in r and "lr" in r for r in rows)
    assert (run / "loss.png").stat().st_size > 1000
    assert [p.name for p in (run / "checkpoints").glob("step-*")] == ["step-0000004"]  # pruned
    ckpt = run / "checkpoints" / "step-0000004"
    assert json.loads((ckpt / "trainer.json").read_text())["config"]["steps"] == 4
    assert not list(ckpt.rglob("*.pt")) and not list(ckpt.rglob("*.bin"))  # no pickles
    from model.modeling import load_model_dir

    model, tok = load_model_dir(result.final_dir)
    assert tok.vocab_size == model.model_config.vocab_size


def test_lr_schedule():
    cfg = TrainConfig(steps=10, warmup_steps=2, lr=1.0, tokenizer="x")
    assert [round(lr_at(s, cfg), 4) for s in range(10)] == [0.5, 1.0, 1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125]


def test_bad_config_names_file_and_key(tmp_path):
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"steps": 5, "tokenizer": "t", "stepz": 3}))
    with pytest.raises(ConfigError, match=r"cfg\.json: unknown key\(s\) stepz"):
        TrainConfig.from_file(path)
    path.write_text(json.dumps({"steps": "5", "tokenizer": "t"}))
    with pytest.raises(ConfigError, match=r"cfg\.json: key 'steps' must be int"):
        TrainConfig.from_file(path)
    path.write_text(json.dumps({"objectives": {"nope": 1}, "tokenizer": "t"}))
    with pytest.raises(ConfigError, match="unknown objective 'nope'"):
        TrainConfig.from_file(path)
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="cfg.json: not valid JSON"):
        TrainConfig.from_file(path)
    proc = subprocess.run([sys.executable, "-m", "training.cli", "pretrain", str(path), "--run-dir",
                           str(tmp_path / "r")], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and "cfg.json: not valid JSON" in proc.stderr


def test_corrupt_checkpoint_is_named(train_data, tmp_path):
    cfg = _cfg(train_data, steps=4, checkpoint_every=2)
    train(cfg, tmp_path / "run", stop_after=2)
    bad = tmp_path / "run" / "checkpoints" / "step-0000002" / "optimizer.safetensors"
    bad.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointError, match=r"step-0000002/optimizer\.safetensors: corrupt"):
        train(cfg, tmp_path / "run")


def test_ddp_two_processes_match_one(train_data, tmp_path):
    """2 gloo processes x 1 micro-batch == 1 process x 2 accumulated micro-batches."""
    cfg = _cfg(train_data, steps=3, batch_size=2, checkpoint_every=10)
    (tmp_path / "cfg.json").write_text(cfg.to_json())
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    one = subprocess.run([sys.executable, "-m", "training.cli", "pretrain", str(tmp_path / "cfg.json"),
                          "--run-dir", str(tmp_path / "one"), "--set", "grad_accum=2"],
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert one.returncode == 0, one.stderr[-2000:]
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                          "-m", "training.cli", "pretrain", str(tmp_path / "cfg.json"),
                          "--run-dir", str(tmp_path / "two")],
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert two.returncode == 0, two.stderr[-3000:]
    assert _losses(tmp_path / "one") == pytest.approx(_losses(tmp_path / "two"), abs=1e-5)
    a, b = _weights(tmp_path / "one" / "final"), _weights(tmp_path / "two" / "final")
    assert set(a) == set(b)
    worst = max(float((a[k] - b[k]).abs().max()) for k in a)
    assert worst < 1e-5, worst
    assert len(_losses(tmp_path / "two")) == 3


def test_ddp_time_budget_stops_every_rank_together(train_data, tmp_path):
    """Under DDP the budget's clock is agreed, so both ranks stop at the same step (no hang)."""
    cfg = _cfg(train_data, steps=100_000, batch_size=2, checkpoint_every=100_000, time_budget_s=4.0)
    (tmp_path / "cfg.json").write_text(cfg.to_json())
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                          "-m", "training.cli", "pretrain", str(tmp_path / "cfg.json"),
                          "--run-dir", str(tmp_path / "two")],
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert two.returncode == 0, two.stderr[-3000:]
    record = json.loads((tmp_path / "two" / "budget.json").read_text())
    assert record["steps"] == len(_losses(tmp_path / "two")) > 1
    assert (tmp_path / "two" / "final" / "model.safetensors").is_file()
