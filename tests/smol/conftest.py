"""Fixtures of the smol tests: the tiny bundle with an fp32 decoder (exact comparisons)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def fp32_bundle(smol_bundle: Path, smol_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test bundle with an fp32 decoder: dynamic int8 scales its activations per call, so
    only fp32 makes a tail prefill bit-comparable with a full one."""
    from model.smol.export import build_decoder

    out = tmp_path_factory.mktemp("fp32") / "bundle"
    shutil.copytree(smol_bundle, out, ignore=shutil.ignore_patterns("decoder"))
    build_decoder(out, out / "decoder", model_dir=smol_model_dir, weights="fp32", head="fp32")
    return out
