"""The `codet5p-lsp` user CLI (index, search, complete, hover, doctor, model) as a subprocess."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli") / "workspace"
    shutil.copytree(REPO / "examples" / "workspace", root)
    return root


def cli(*args: str, cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "CODET5P_LSP_CACHE_DIR": str(cache)}
    return subprocess.run([sys.executable, "-m", "lsp_server", *args], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=180)


def test_index_search_complete_hover(ws: Path, tiny_bundle: Path, tmp_path: Path) -> None:
    model = ["--model", str(tiny_bundle), "--threads", "1"]
    out = cli("index", str(ws), "--json", *model, cache=tmp_path)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["files"] == 8 and report["symbols"] >= 40 and report["embedded"] == report["symbols"]
    again = json.loads(cli("index", str(ws), "--json", *model, cache=tmp_path).stdout)
    assert again["files_parsed"] == 0 and again["embedded"] == 0  # reused, nothing redone

    found = json.loads(cli("search", str(ws), "read_config", "--json", *model, cache=tmp_path).stdout)
    top = found["results"][0]
    assert top["name"] == "read_config" and top["path"].endswith("bookshelf/catalog.py") and top["line"] == 71
    nl = json.loads(cli("search", str(ws), "read the configuration file", "--json", "--limit", "20", *model,
                        cache=tmp_path).stdout)
    assert "read_config" in [r["name"] for r in nl["results"]]
    assert any("lexical" in r["sources"] for r in nl["results"])

    comp = cli("complete", str(ws / "bookshelf/stats.py"), "12", "5", "--json", *model, cache=tmp_path)
    got = json.loads(comp.stdout)
    assert got["source"] == "model" and got["mode"] in ("fim", "causal") and got["latency_ms"] > 0

    hover = json.loads(cli("hover", str(ws / "bookshelf/catalog.py"), "34", "10", "--json", *model,
                           cache=tmp_path).stdout)
    assert hover["name"] == "find_by_author" and hover["kind"] == "method"
    assert hover["signature"] == "def find_by_author(self, author: str) -> list[Book]"


def test_errors_are_clear(ws: Path, tmp_path: Path) -> None:
    out = cli("complete", str(ws / "bookshelf/stats.py"), "999", "1", cache=tmp_path)
    assert out.returncode == 2 and "line 998 is past the end" in out.stderr
    out = cli("hover", str(ws / "README.md"), "1", "1", cache=tmp_path)
    assert out.returncode == 2 and "unsupported file type" in out.stderr
    out = cli("search", str(ws / "nope"), "x", cache=tmp_path)
    assert out.returncode == 2 and "is not a directory" in out.stderr
    out = cli("search", str(ws), "Catalog", "--model", str(tmp_path / "missing"), cache=tmp_path)
    assert out.returncode == 0 and "Catalog" in out.stdout and "running without the model" in out.stderr


def test_doctor(tiny_bundle: Path, tmp_path: Path) -> None:
    out = cli("doctor", "--model", str(tiny_bundle), cache=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    for needle in ("[ok  ] onnxruntime providers", "[ok  ] tree-sitter rust", "[ok  ] model",
                   "embed one function", "[ok  ] server path free of torch", "all essential checks passed"):
        assert needle in out.stdout, out.stdout
    bad = cli("doctor", "--model", str(tmp_path / "missing"), cache=tmp_path)
    assert "[warn] model" in bad.stdout and "lexical search only" in bad.stdout


def test_doctor_says_how_the_decoder_was_built(smol_bundle: Path, tmp_path: Path) -> None:
    out = cli("doctor", "--model", str(smol_bundle), cache=tmp_path)
    assert "decoder built" in out.stdout and "fused graph, int" in out.stdout, out.stdout


def test_model_subcommand_is_delegated(tmp_path: Path) -> None:
    out = cli("model", "--help", cache=tmp_path)
    assert out.returncode == 0 and "codet5p-lsp model" in out.stdout


def test_server_path_never_imports_torch(tmp_path: Path) -> None:
    code = ("import sys, lsp_server.server, lsp_server.engine, lsp_server.cli, lsp_server.demo, model.runtime; "
            "heavy = {'torch', 'transformers', 'optimum'} & set(sys.modules); assert not heavy, heavy")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert out.returncode == 0, out.stderr
