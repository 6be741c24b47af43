"""A model directory scored with torch ranks like its exported bundle scored with ONNX Runtime."""
from __future__ import annotations

import json

import numpy as np

from model.runtime import Runtime
from model.testing import build_tiny_bundle, build_tiny_model_dir
from training.cli import main
from training.eval.retrieval import evaluate_retrieval
from training.eval.torch_runtime import TorchRuntime

ROWS = [{"query": f"return the {w} of the values", "code": f"def {w}_of(values):\n    return {w}(values)\n"}
        for w in ("sum", "max", "min", "sorted", "len", "any", "all", "set")]


def test_torch_runtime_matches_onnx_bundle(tmp_path):
    model_dir = build_tiny_model_dir(tmp_path / "model")
    bundle = build_tiny_bundle(tmp_path / "bundle", model_dir=model_dir)
    ort = Runtime.load(bundle, threads=1, precision="fp32")
    pt = TorchRuntime(model_dir, device="cpu")
    texts = [r["query"] for r in ROWS] + [r["code"] for r in ROWS]
    assert np.allclose(pt.embed(texts, batch_size=3), ort.embed(texts, batch_size=5), atol=1e-4)
    codes = [r["code"] for r in ROWS]
    assert np.allclose(pt.match_scores(ROWS[0]["query"], codes, batch_size=3),
                       ort.match_scores(ROWS[0]["query"], codes), atol=1e-4)
    a = evaluate_retrieval(ROWS, pt, rerank_k=4).systems
    b = evaluate_retrieval(ROWS, ort, rerank_k=4).systems
    assert list(a) == list(b) == ["codet5p embedding", "codet5p + match re-rank@4"]
    assert a == b


def test_eval_command_takes_a_model_dir(tmp_path, capsys):
    model_dir = build_tiny_model_dir(tmp_path / "model")
    data = tmp_path / "retrieval.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    assert main(["eval", "retrieval", "--model-dir", str(model_dir), "--data", str(data), "--json",
                 "--device", "cpu", "--rerank-k", "3"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["systems"]) == {"codet5p embedding", "codet5p + match re-rank@3"}
    assert main(["eval", "complete", "--model-dir", str(model_dir), "--data", str(data)]) == 2
    assert "export a bundle" in capsys.readouterr().err
