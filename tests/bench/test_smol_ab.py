"""The smol A/B benches (encoder candidates; frozen vs unfrozen decoder) run end to end on a tiny model."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORDS = ["sum", "max", "min", "sorted", "len", "reversed", "set", "list"]


def _data(tmp_path: Path) -> tuple[Path, Path]:
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"docstring": f"Return the {w} of the values.",
                                         "code": f"def {w}_of(values):\n    return {w}(values)\n"}) + "\n"
                             for w in WORDS * 5))
    held = tmp_path / "held.jsonl"
    held.write_text("".join(json.dumps({"query": f"the {w} of values", "docstring": f"The {w} of values",
                                        "code": f"def f(v):\n    return {w}(v)\n"}) + "\n" for w in WORDS))
    return pairs, held


def _run(script: str, *args: str) -> dict:
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], capture_output=True,
                          text=True, timeout=600, env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout[proc.stdout.rindex("\n{"):])


def test_encoder_ab_scores_both_candidates(smol_model_dir: Path, tmp_path: Path) -> None:
    pairs, held = _data(tmp_path)
    report = _run("smol_encoder_ab.py", "--init", str(smol_model_dir), "--pairs", str(pairs), "--heldout",
                  str(held), "--seconds", "2", "--layers", "2", "--threads", "1")
    assert report["pool"] == len(WORDS)
    assert set(report["candidates"]) == {"all-MiniLM-L6-v2", "SmolLM2 first 2 layers"}
    for row in report["candidates"].values():
        assert 0 < row["zero_shot_mrr"] <= 1 and 0 < row["trained_mrr"] <= 1 and row["steps"] >= 1


def test_frozen_ab_trains_more_parameters_when_unfrozen(smol_model_dir: Path, tmp_path: Path) -> None:
    pairs, held = _data(tmp_path)
    report = _run("smol_frozen_ab.py", "--init", str(smol_model_dir), "--pairs", str(pairs), "--heldout",
                  str(held), "--seconds", "2", "--limit", "8", "--threads", "1")
    frozen, unfrozen = report["arms"]["frozen decoder"], report["arms"]["unfrozen decoder"]
    assert unfrozen["trainable_parameters"] > frozen["trainable_parameters"]
    assert frozen["steps"] >= 1 and unfrozen["steps"] >= 1
    assert report["zero_shot_loss"] > 0 and frozen["heldout_loss"] > 0
