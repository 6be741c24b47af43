"""`model info` / `model import` (model.cli) and `codet5p-train export` entry points."""
from __future__ import annotations

import json

from model.cli import main as model_main
from model.testing import build_replica
from training.cli import main as train_main


def test_model_info_prints_manifest(tiny_bundle, capsys):
    assert model_main(["info", str(tiny_bundle), "--check"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == json.loads((tiny_bundle / "manifest.json").read_text())


def test_model_info_bad_bundle(tmp_path, capsys):
    assert model_main(["info", str(tmp_path)]) == 1
    assert "manifest.json: missing" in capsys.readouterr().err


def test_model_import_cli(tmp_path, capsys):
    src = build_replica("codet5p-110m-embedding", tmp_path / "src")
    assert model_main(["import", str(src), str(tmp_path / "bundle")]) == 0
    assert (tmp_path / "bundle" / "manifest.json").is_file()
    assert model_main(["import", str(src), str(tmp_path / "bundle")]) == 1
    assert "already exists" in capsys.readouterr().err
    (src / "config.json").write_text(json.dumps({"architectures": ["GPT2LMHeadModel"]}))
    assert model_main(["import", str(src), str(tmp_path / "other")]) == 1
    err = capsys.readouterr().err
    assert "config.json: unsupported architecture" in err and "Traceback" not in err


def test_train_export_cli(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "bundle"
    assert train_main(["export", str(tiny_model_dir), str(out), "--int8-only"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["parity"]["max_logit_diff"] < 1e-4
    manifest = json.loads((out / "manifest.json").read_text())
    assert all(set(g) == {"int8"} for g in manifest["graphs"].values())
    assert not list(out.glob("*[!8].onnx"))  # no fp32 graphs kept
    assert train_main(["export", str(tmp_path / "missing"), str(tmp_path / "b2")]) == 1
    assert "config.json: missing" in capsys.readouterr().err
