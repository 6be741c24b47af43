"""`training/remote/small_gpu.sh`, the command run on the GPU machine, dry-run on the CPU with the
tiny recipe: full run, both ablations, packed models that unpack, retrieval scored, logs kept."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

from training.cli import main
from training.pipeline import run_recipe

ROOT = Path(__file__).resolve().parents[2]


def test_gpu_script_dry_run(tmp_path):
    src = run_recipe("tiny", tmp_path / "src", device="cpu", until="tokenizer")  # corpus + tokenizer
    instructions = tmp_path / "instructions.jsonl"
    from training.instruct import build_instructions

    build_instructions(Path(src["corpus"]) / "pairs" / "train.jsonl", instructions, ngram=13, max_examples=0)
    data = tmp_path / "data.tar.xz"
    assert main(["transfer", "corpus", src["corpus"], str(data), "--instructions", str(instructions)]) == 0
    out = tmp_path / "out"
    env = {**os.environ, "OUT": str(out), "WORK": str(tmp_path / "w"), "RECIPE": "tiny", "DEVICE": "cpu",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(["bash", str(ROOT / "training" / "remote" / "small_gpu.sh"), str(data)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    names = sorted(p.name for p in out.iterdir())
    assert names == ["A-final.pack.00", "A-stage1.pack.00", "B-stage1-no-clm.pack.00", "logs.tgz"], names
    logs = tmp_path / "logs"
    with tarfile.open(out / "logs.tgz") as tar:
        tar.extractall(logs, filter="data")
    for run in ("A/runs/stage1", "A/runs/instruct", "B/runs/stage1", "C/runs/stage2"):
        assert (logs / run / "metrics.jsonl").is_file(), run
    b_losses = {k for line in (logs / "B/runs/stage1/metrics.jsonl").read_text().splitlines()
                for k in json.loads(line) if k.startswith("loss/")}
    assert b_losses == {"loss/denoise"}  # the no-clm ablation
    for r in ("A", "C"):
        report = json.loads((logs / "eval" / f"retrieval-{r}-stage2.json").read_text())
        assert "codet5p embedding" in report["systems"]
    reliance = json.loads((logs / "eval" / "encoder-reliance-stage1.json").read_text())["models"]
    assert set(reliance) == {"A/runs/stage1/final", "B/runs/stage1/final"}
    assert all(set(m) == {"code2text", "denoise"} for m in reliance.values())
    for pack in ("A-final", "A-stage1", "B-stage1-no-clm"):
        (out / f"{pack}.pack.json").write_bytes((logs / "packs" / f"{pack}.pack.json").read_bytes())
        assert main(["transfer", "unpack", str(out / f"{pack}.pack.json"), str(tmp_path / pack)]) == 0
