"""Shared pytest fixtures: a tiny random-weight model directory and its exported bundle.

Both are built once per session (about 10 s together) by `model.testing`; tests must treat them
as read-only (copy the bundle before corrupting it).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A `tiny` config model directory (config.json, model.safetensors, tokenizer.json)."""
    import torch

    from model.testing import build_tiny_model_dir

    torch.set_num_threads(1)
    return build_tiny_model_dir(tmp_path_factory.mktemp("tiny_model") / "model", seed=0)


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    """The exported bundle of `tiny_model_dir` (fp32 + int8 graphs, manifest, tokenizer)."""
    import torch

    from model.testing import build_tiny_bundle

    torch.set_num_threads(1)
    return build_tiny_bundle(tmp_path_factory.mktemp("tiny_bundle") / "bundle", model_dir=tiny_model_dir)


@pytest.fixture(scope="session")
def smol_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A `smol-tiny` model directory (MiniLM tokenizer, tiny BPE, random weights, decoder inside)."""
    import torch

    from model.smol.testing import build_tiny_smol_dir

    torch.set_num_threads(1)
    return build_tiny_smol_dir(tmp_path_factory.mktemp("smol_model") / "model", seed=0)


@pytest.fixture(scope="session")
def smol_bundle(tmp_path_factory: pytest.TempPathFactory, smol_model_dir: Path) -> Path:
    """The smol bundle of `smol_model_dir`: shipped half + its decoder built into `decoder/`."""
    import torch

    from model.smol.testing import build_tiny_smol_bundle

    torch.set_num_threads(1)
    return build_tiny_smol_bundle(tmp_path_factory.mktemp("smol_bundle") / "bundle", smol_model_dir)
