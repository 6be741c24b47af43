"""The tiny recipe end to end: fixtures -> corpus -> tokenizer -> stage 1 -> stage 2 -> instruct
-> ONNX bundle that the torch-free runtime loads and generates from; re-running resumes (no-op)."""
from __future__ import annotations

import json
import time

import numpy as np

from training.pipeline import run_recipe


def test_tiny_recipe_to_runtime(tmp_path):
    work = tmp_path / "work"
    result = run_recipe("tiny", work, device="cpu")
    card = json.loads((work / "corpus" / "data_card.json").read_text())
    assert card["tokens"]["train"] > 0 and card["splits"]["test"]["pairs"] > 0
    for stage in ("stage1_denoise", "stage1", "stage2", "instruct"):
        assert (work / "runs" / stage / "DONE").is_file()
        assert (work / "runs" / stage / "loss.png").is_file()
    stage1 = [json.loads(l) for l in (work / "runs" / "stage1" / "metrics.jsonl").read_text().splitlines()]
    assert {"loss/denoise", "loss/seq2seq_clm", "loss/decoder_clm"} <= {k for r in stage1 for k in r}
    instruct = [json.loads(l) for l in (work / "runs" / "instruct" / "metrics.jsonl").read_text().splitlines()]
    replayed = {k for r in instruct for k in r if k.startswith("loss/")}
    assert "loss/instruct" in replayed and len(replayed) >= 2
    assert replayed <= {"loss/instruct", "loss/decoder_clm", "loss/code2text"}
    assert json.loads((work / "runs" / "instruct" / "resolved_config.json").read_text())["data_for"]["chunks"].endswith(
        "files/train.jsonl")  # the replayed stage-1 objective reads the corpus files
    instr = (work / "instruct" / "train.jsonl").read_text().splitlines()
    assert len(instr) > 10

    from model.formats import text_to_code_example
    from model.runtime import Runtime
    from model.runtime.api import GenerationConfig

    rt = Runtime.load(result["bundle"], threads=1)
    assert rt.has_embedding and rt.has_matching and rt.has_decoder
    vecs = rt.embed(["add two numbers", "def add(a, b):\n    return a + b"])
    assert vecs.shape == (2, rt.config.embed_dim) and np.allclose(np.linalg.norm(vecs, axis=1), 1, atol=1e-4)
    cfg = GenerationConfig(max_new_tokens=8)
    gen = rt.generate(text_to_code_example(rt.tokenizer, "Reverse a list."), cfg)
    assert isinstance(gen.text, str) and len(gen.token_ids) <= 8 and gen.stop_reason
    assert isinstance(rt.summarize("def add(a, b):\n    return a + b", cfg).text, str)

    t0 = time.perf_counter()
    again = run_recipe("tiny", work, device="cpu")  # everything is done: resumes to a no-op
    assert again["bundle"] == result["bundle"] and time.perf_counter() - t0 < 20

    # the paper's ablations: stages before the changed one come from the full run
    no_match = run_recipe("tiny", tmp_path / "no-matching", corpus=work / "corpus", device="cpu",
                          ablation="no-matching", reuse=work, until="stage2")
    assert no_match["reused"] == ["stage1_denoise", "stage1"] and no_match["stage1"] == result["stage1"]
    rows = [json.loads(l) for l in (tmp_path / "no-matching" / "runs" / "stage2" / "metrics.jsonl").read_text().splitlines()]
    assert "loss/contrastive" in rows[-1] and not any("loss/matching" in r for r in rows)
    no_clm = run_recipe("tiny", tmp_path / "no-clm", corpus=work / "corpus", device="cpu",
                        ablation="no-clm", reuse=work, until="stage1")
    assert no_clm["reused"] == ["stage1_denoise"]
    rows = [json.loads(l) for l in (tmp_path / "no-clm" / "runs" / "stage1" / "metrics.jsonl").read_text().splitlines()]
    assert {k for r in rows for k in r if k.startswith("loss/")} == {"loss/denoise"}
