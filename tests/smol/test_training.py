"""Smol training on a tiny model: every objective runs, only trainable parts change, exact resume."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from model.smol.model_dir import load_smol_dir
from training.smol.recipe import tiny_stages
from training.smol.trainer import SmolStageConfig, read_pairs, train_stage

PAIRS = [
    {"docstring": "Add two numbers", "code": "def add(a, b):\n    return a + b"},
    {"docstring": "Read a file", "code": "def read(path):\n    with open(path) as f:\n        return f.read()"},
    {"docstring": "Print even numbers", "code": "for i in range(10):\n    if i % 2 == 0:\n        print(i)"},
    {"docstring": "A stack class", "code": "class Stack:\n    def __init__(self):\n        self.items = []"},
    {"docstring": "Greet someone", "code": "def greet(name):\n    return 'hello ' + name"},
    {"docstring": "The largest of two", "code": "def max2(a, b):\n    return a if a > b else b"},
]


@pytest.fixture()
def pairs(tmp_path: Path) -> Path:
    path = tmp_path / "pairs.jsonl"
    lines = [json.dumps(p) for p in PAIRS] + ["not json", json.dumps({"docstring": "", "code": "x"})]
    path.write_text("\n".join(lines) + "\n")
    return path


def _losses(run: Path) -> list[float]:
    return [json.loads(line)["loss"] for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_read_pairs_skips_malformed_lines(pairs: Path) -> None:
    assert len(read_pairs(pairs)) == len(PAIRS)


def test_every_objective_trains_only_the_trainable_parts(smol_model_dir: Path, pairs: Path, tmp_path: Path) -> None:
    stage = tiny_stages(pairs, smol_model_dir)[1]
    final = train_stage(stage, tmp_path / "run")
    row = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert {"contrastive", "matching", "code_to_text", "text_to_code"} <= set(row)
    assert all(torch.isfinite(torch.tensor(row[k])) for k in ("contrastive", "matching", "code_to_text"))
    before, _, _ = load_smol_dir(smol_model_dir)
    after, _, info = load_smol_dir(final)
    b, a = before.state_dict(), after.state_dict()
    changed = {k for k in b if not torch.equal(b[k], a[k])}
    assert any(k.startswith("cross.") for k in changed) and any(k.startswith("encoder.") for k in changed)
    assert not any(k.startswith(("model.", "lm_head")) for k in changed)  # the decoder stays frozen
    assert info["stages"][-1]["name"] == "stage2" and info["step"] == stage.steps
    assert set(load_file(str(final / "trained.safetensors"))) == set(after.trainable_state_dict())


def test_resumed_run_repeats_the_uninterrupted_losses(smol_model_dir: Path, pairs: Path, tmp_path: Path) -> None:
    stage = SmolStageConfig(**{**tiny_stages(pairs, smol_model_dir)[1].to_dict(), "steps": 4})
    train_stage(stage, tmp_path / "whole")
    train_stage(stage, tmp_path / "cut", stop_after=2)
    assert len(_losses(tmp_path / "cut")) == 2
    train_stage(stage, tmp_path / "cut")
    assert _losses(tmp_path / "cut") == pytest.approx(_losses(tmp_path / "whole"), rel=1e-5)


def test_bad_stage_configs_are_refused(smol_model_dir: Path, pairs: Path, tmp_path: Path) -> None:
    base = tiny_stages(pairs, smol_model_dir)[0].to_dict()
    with pytest.raises(ValueError, match="unknown objectives"):
        train_stage(SmolStageConfig(**{**base, "objectives": {"denoise": 1.0}}), tmp_path / "a")
    with pytest.raises(ValueError, match="gen_batch_size"):
        train_stage(SmolStageConfig(**{**base, "gen_batch_size": 99}), tmp_path / "b")


def test_validation_keeps_the_best_model_as_final(smol_model_dir: Path, pairs: Path, tmp_path: Path) -> None:
    stage = SmolStageConfig(**{**tiny_stages(pairs, smol_model_dir)[1].to_dict(), "steps": 4,
                               "valid_pairs": str(pairs), "valid_every": 2, "valid_n": 6,
                               "valid_rerank_queries": 3, "select_by": "valid_mrr"})
    final = train_stage(stage, tmp_path / "run")
    rows = [json.loads(line) for line in (tmp_path / "run" / "valid.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 2, 4]
    for r in rows:
        assert 0.0 <= r["valid_bleu4"] <= 100.0 and 0.0 < r["valid_mrr"] <= 1.0
        assert 0.0 < r["valid_rerank_mrr"] <= 1.0 and 0.0 < r["valid_mrr_top"] <= 1.0
    best = max(rows, key=lambda r: r["valid_mrr"])  # the first of equal scores is kept
    assert rows[[r["step"] for r in rows].index(best["step"])].get("saved")
    _, _, info = load_smol_dir(final)
    assert info["stages"][-1]["chosen_step"] == best["step"]
    assert load_file(str(final / "trained.safetensors")).keys() == load_file(
        str(tmp_path / "run" / "best" / "trained.safetensors")).keys()
    for k, v in load_file(str(final / "trained.safetensors")).items():
        assert torch.equal(v, load_file(str(tmp_path / "run" / "best" / "trained.safetensors"))[k]), k


def test_validation_needs_its_pairs(smol_model_dir: Path, pairs: Path, tmp_path: Path) -> None:
    base = tiny_stages(pairs, smol_model_dir)[0].to_dict()
    with pytest.raises(ValueError, match="valid_pairs"):
        train_stage(SmolStageConfig(**{**base, "valid_every": 2}), tmp_path / "a")
    with pytest.raises(ValueError, match="precision"):
        train_stage(SmolStageConfig(**{**base, "precision": "fp8"}), tmp_path / "b")


def test_continue_from_runs_only_stage2_from_the_trained_model(smol_model_dir: Path, pairs: Path,
                                                               tmp_path: Path) -> None:
    from training.cli import main

    sets = ["steps=2", "batch_size=4", "gen_batch_size=2", "side_batch_size=2", "text_length=16",
            "code_length=32", "prompt_length=32", "summary_length=8", "code_target_length=16",
            "valid_every=0", "valid_n=4", "valid_rerank_queries=0", "seed=2"]
    argv = ["smol-recipe", "--recipe", "smol-gpu", "--device", "cpu", "--work", str(tmp_path / "run"),
            "--pairs", str(pairs), "--valid", str(pairs), "--continue-from", str(smol_model_dir)]
    for kv in sets:
        argv += ["--set", kv]
    assert main(argv) == 0
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["stage2"]  # no import, no contrastive
    start, _, _ = load_smol_dir(smol_model_dir)
    after, _, info = load_smol_dir(tmp_path / "run" / "stage2" / "final")
    assert info["stages"][-1]["name"] == "stage2"
    assert json.loads((tmp_path / "run" / "stage2" / "resolved_config.json").read_text())["init_from"] == str(
        smol_model_dir)
    assert set(after.state_dict()) == set(start.state_dict())
    bad = [str(tmp_path / "nowhere") if a == str(smol_model_dir) else a for a in argv]
    assert main(bad) == 2  # not a model directory
    assert not (tmp_path / "nowhere").exists()
