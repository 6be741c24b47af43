"""Packing a model directory into capped parts and back: fp16 / int8 round trips, damage detected."""
from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from model.modeling import load_model_dir
from model.testing import build_tiny_model_dir
from training.cli import main
from training.transfer import TransferError, pack_model_dir, unpack_model_dir


@pytest.mark.parametrize("precision,tol", [("fp16", 1e-3), ("int8", 0.02)])
def test_round_trip(tmp_path, precision, tol):
    src = build_tiny_model_dir(tmp_path / "model")
    parts = pack_model_dir(src, tmp_path / "parts", precision, max_part_bytes=50_000)
    assert len(parts) > 1 and all(p.stat().st_size <= 50_000 for p in parts)
    out = unpack_model_dir(tmp_path / "parts" / "model.pack.json", tmp_path / "back")
    a, b = load_file(str(src / "model.safetensors")), load_file(str(out / "model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert b[k].dtype == torch.float32
        assert (a[k] - b[k]).abs().max() <= tol * max(1e-6, float(a[k].abs().max()))
    model, tok = load_model_dir(out)
    assert tok.vocab_size <= model.model_config.vocab_size


def test_damaged_or_missing_parts_are_refused(tmp_path, capsys):
    src = build_tiny_model_dir(tmp_path / "model")
    assert main(["transfer", "pack", str(src), str(tmp_path / "parts"), "--max-part-mb", "0.05"]) == 0
    parts = sorted((tmp_path / "parts").glob("model.pack.0*"))
    data = bytearray(parts[0].read_bytes())
    data[100] ^= 0xFF
    parts[0].write_bytes(bytes(data))
    with pytest.raises(TransferError, match="SHA-256"):
        unpack_model_dir(tmp_path / "parts" / "model.pack.json", tmp_path / "back")
    parts[-1].unlink()
    assert main(["transfer", "unpack", str(tmp_path / "parts" / "model.pack.json"), str(tmp_path / "b2")]) == 1
    assert "missing part" in capsys.readouterr().err


def test_corpus_share_is_deterministic(tmp_path, capsys):
    import tarfile

    corpus = tmp_path / "corpus"
    (corpus / "files").mkdir(parents=True)
    (corpus / "pairs").mkdir()
    (corpus / "files" / "train.jsonl").write_text("".join(f'{{"text": "x = {i}"}}\n' for i in range(400)))
    (corpus / "pairs" / "train.jsonl").write_text('{"docstring": "d", "code": "c"}\n')
    outs = []
    for name in ("a", "b"):
        assert main(["transfer", "corpus", str(corpus), str(tmp_path / f"{name}.tar.xz"),
                     "--train-fraction", "0.5"]) == 0
        with tarfile.open(tmp_path / f"{name}.tar.xz") as tar:
            outs.append(tar.extractfile("corpus/files/train.jsonl").read())
            assert "corpus/pairs/train.jsonl" in tar.getnames()
    assert outs[0] == outs[1] and 120 < outs[0].count(b"\n") < 280
    assert main(["transfer", "corpus", str(corpus), str(tmp_path / "c.tar.xz"), "--train-fraction", "0"]) == 1


def test_smol_dir_round_trip_keeps_its_files(tmp_path, smol_model_dir):
    """A smol directory travels as its trained parts, config and tokenizers; it loads after."""
    import shutil

    from model.smol.model_dir import load_smol_dir

    src = tmp_path / "smol"
    shutil.copytree(smol_model_dir, src)
    pack_model_dir(src, tmp_path / "parts", "fp16", max_part_bytes=200_000)
    out = unpack_model_dir(tmp_path / "parts" / "smol.pack.json", tmp_path / "back")
    assert not (out / "decoder.safetensors").exists()  # the frozen decoder is not packed
    shutil.copyfile(src / "decoder.safetensors", out / "decoder.safetensors")  # (a test dir carries its own)
    a, b = load_file(str(src / "trained.safetensors")), load_file(str(out / "trained.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert (a[k] - b[k]).abs().max() <= 1e-3 * max(1e-6, float(a[k].abs().max()))
    model, tok, info = load_smol_dir(out)
    assert info["model"]["name"] == model.model_config.name
