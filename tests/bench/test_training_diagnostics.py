"""The training diagnostics in `bench/` run end to end on a tiny model and report what they claim."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from model.testing import build_tiny_model_dir

ROOT = Path(__file__).resolve().parents[2]
WORDS = ["sum", "max", "min", "sorted", "len", "reversed", "set", "list"]


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _run(script: str, *args: str) -> dict:
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], capture_output=True,
                          text=True, timeout=600, env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout[proc.stdout.index("{"):])


def test_embedding_signal_scores_every_pooling(tmp_path):
    model = build_tiny_model_dir(tmp_path / "m")
    # query == code: a bag of the model's own token embeddings must rank every gold first
    rows = [{"query": f"def {w}_of(values):\n    return {w}(values)\n",
             "code": f"def {w}_of(values):\n    return {w}(values)\n"} for w in WORDS]
    heldout = _write(tmp_path / "retrieval.jsonl", rows)
    report = _run("embedding_signal.py", str(model), "--heldout", str(heldout), "--threads", "1")
    assert report["pool"] == len(WORDS)
    scores = report["models"]["m"]
    assert set(scores) == {"token embeddings, mean", "encoder, first position", "encoder, mean", "embedding head"}
    assert scores["token embeddings, mean"]["mrr"] == 1.0
    assert all(0 < s["mrr"] <= 1 and 0 < s["mrr_centred"] <= 1 for s in scores.values())


def test_contrastive_curve_scores_each_checkpoint(tmp_path):
    model = build_tiny_model_dir(tmp_path / "m")
    pairs = _write(tmp_path / "pairs.jsonl", [{"docstring": f"Return the {w} of the values.",
                                               "code": f"def {w}_of(values):\n    return {w}(values)\n"}
                                              for w in WORDS * 4])
    heldout = _write(tmp_path / "retrieval.jsonl", [{"query": f"the {w} of values", "code": f"def f(v):\n    return {w}(v)\n"}
                                                     for w in WORDS])
    out = tmp_path / "curve.json"
    report = _run("contrastive_curve.py", "--init", str(model), "--pairs", str(pairs), "--heldout", str(heldout),
                  "--steps", "4", "--every", "2", "--batch-size", "4", "--threads", "1", "--out", str(out))
    assert [p["step"] for p in report["points"]] == [0, 2, 4]
    assert json.loads(out.read_text()) == report
    assert all(0 < p["mrr"] <= 1 and -1 <= p["code_cosine_mean"] <= 1 for p in report["points"])
    assert report["chance_mrr"] == round(sum(1 / k for k in range(1, 9)) / 8, 4)


def test_encoder_reliance_compares_own_and_other_encoder_input(tmp_path):
    model = build_tiny_model_dir(tmp_path / "m")
    heldout = tmp_path / "heldout"
    heldout.mkdir()
    _write(heldout / "summarize.jsonl", [{"code": f"def {w}_of(values):\n    return {w}(values)\n",
                                          "docstring": f"Return the {w} of the values."} for w in WORDS])
    _write(heldout / "retrieval.jsonl", [{"query": f"the {w}", "code": f"def {w}_of(values):\n    return {w}(values)\n"}
                                         for w in WORDS])
    report = _run("encoder_reliance.py", str(model), "--heldout", str(heldout), "--limit", "8", "--threads", "1")
    for task in ("code2text", "denoise"):
        r = report["models"]["m"][task]
        assert r["matched"] > 0 and r["mismatched"] > 0
        assert r["gain_nats"] == pytest.approx(r["mismatched"] - r["matched"], abs=2e-4)


def test_copy_task_compares_learning_rates_from_one_start():
    report = _run("copy_task.py", "--config", "tiny", "--steps", "20", "--every", "10", "--lrs", "1e-3,1e-4",
                  "--threads", "1")
    assert report["chance_loss"] == pytest.approx(5.9661, abs=1e-4)  # ln(390)
    assert set(report["runs"]) == {"0.001", "0.0001"}
    for run in report["runs"].values():
        assert [p["step"] for p in run["curve"]] == [10, 20]
        assert all(p["loss"] > 0 for p in run["curve"])
    # same start, same batches: the runs differ only through the learning rate
    assert report["runs"]["0.001"]["curve"] != report["runs"]["0.0001"]["curve"]
