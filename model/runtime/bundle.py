"""Bundle layout and manifest checks (torch-free).

A bundle is a directory with `manifest.json`, `tokenizer.json` and ONNX graphs: `encoder`
(always), `decoder` + `decoder_with_past` (models with a decoder) and `matching` (models with
the matching head), each in `fp32` and/or `int8`. The manifest records, per graph and precision,
the file name, byte size, sha256 and the graph's inputs/outputs; plus the `ModelConfig`, the
tokenizer's hash, opset, quantisation and the parity measured at export. `load_manifest` checks
all of that against the files and raises `BundleError` naming the file and the fault.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from model.config import ModelConfig
from model.runtime.api import BundleError

MANIFEST_FILE = "manifest.json"
TOKENIZER_FILE = "tokenizer.json"
FORMAT_NAME = "codet5p-lsp-bundle"
FORMAT_VERSION = 1
PRECISIONS = ("fp32", "int8")
GRAPHS = ("encoder", "decoder", "decoder_with_past", "matching")


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            block = f.read(chunk)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


def file_record(path: Path) -> dict[str, Any]:
    """`{"file", "size", "sha256"}` for a file inside a bundle."""
    return {"file": path.name, "size": path.stat().st_size, "sha256": sha256_file(path)}


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise BundleError(f"{path}: missing (not a model bundle?)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise BundleError(f"{path}: expected a JSON object")
    return data


def check_file(bundle_dir: Path, record: Any, what: str, verify_hash: bool = True) -> Path:
    """Check that the file a manifest record names exists with the recorded size (and hash)."""
    manifest = bundle_dir / MANIFEST_FILE
    if not isinstance(record, dict) or not isinstance(record.get("file"), str):
        raise BundleError(f"{manifest}: entry for {what} has no 'file'")
    name = record["file"]
    if "/" in name or "\\" in name or name.startswith("."):
        raise BundleError(f"{manifest}: entry for {what} names an unsafe path {name!r}")
    path = bundle_dir / name
    if not path.is_file():
        raise BundleError(f"{path}: missing ({what} listed in {MANIFEST_FILE})")
    size = path.stat().st_size
    if "size" in record and size != record["size"]:
        raise BundleError(f"{path}: {size} bytes but {MANIFEST_FILE} records {record['size']} "
                          f"(truncated or replaced {what})")
    if verify_hash and "sha256" in record and sha256_file(path) != record["sha256"]:
        raise BundleError(f"{path}: sha256 does not match {MANIFEST_FILE} ({what} modified or corrupt)")
    data = record.get("data", [])
    if not isinstance(data, list):
        raise BundleError(f"{manifest}: entry for {what} has a bad 'data' list")
    for extra in data:  # external weights of graphs over 2 GB
        check_file(bundle_dir, extra, f"external data of {what}", verify_hash)
    return path


def load_manifest(bundle_dir: Path) -> tuple[dict[str, Any], ModelConfig]:
    """Read and structurally check `manifest.json`; returns (manifest, config)."""
    bundle_dir = Path(bundle_dir)
    if not bundle_dir.is_dir():
        raise BundleError(f"{bundle_dir}: bundle directory not found")
    path = bundle_dir / MANIFEST_FILE
    manifest = _read_json(path)
    if manifest.get("format") != FORMAT_NAME:
        raise BundleError(f"{path}: format is {manifest.get('format')!r}, expected {FORMAT_NAME!r}")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise BundleError(f"{path}: format_version {version!r} is not supported (this runtime reads "
                          f"{FORMAT_VERSION}); re-export the bundle")
    try:
        config = ModelConfig.from_dict(manifest["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise BundleError(f"{path}: bad 'config' ({exc})") from exc
    graphs = manifest.get("graphs")
    if not isinstance(graphs, dict) or "encoder" not in graphs:
        raise BundleError(f"{path}: 'graphs' must list at least the encoder")
    unknown = sorted(set(graphs) - set(GRAPHS))
    if unknown:
        raise BundleError(f"{path}: unknown graphs {unknown}")
    if config.has_decoder and not {"decoder", "decoder_with_past"} <= set(graphs):
        raise BundleError(f"{path}: config has a decoder but 'graphs' lacks decoder/decoder_with_past")
    if config.has_matching_head and "matching" not in graphs:
        raise BundleError(f"{path}: config has a matching head but 'graphs' lacks 'matching'")
    if not isinstance(manifest.get("tokenizer"), dict):
        raise BundleError(f"{path}: missing 'tokenizer' entry")
    return manifest, config


def pick_precision(manifest: dict[str, Any], precision: str, bundle_dir: Path) -> str:
    """Resolve `auto` to int8 when every graph has it, else fp32; check the choice exists."""
    if precision not in ("auto", *PRECISIONS):
        raise ValueError(f"precision must be auto, fp32 or int8, not {precision!r}")
    graphs = manifest["graphs"]
    available = [p for p in PRECISIONS if all(isinstance(g, dict) and p in g for g in graphs.values())]
    if not available:
        raise BundleError(f"{bundle_dir / MANIFEST_FILE}: no precision has all graphs")
    if precision == "auto":
        return "int8" if "int8" in available else available[0]
    if precision not in available:
        raise BundleError(f"{bundle_dir / MANIFEST_FILE}: bundle has no {precision} graphs "
                          f"(available: {', '.join(available)})")
    return precision


def likelihood_weight(manifest: dict[str, Any]) -> float | None:
    """The cosine-vs-likelihood weight of the likelihood re-rank a bundle records
    (`search.likelihood_weight`, chosen on a validation split by `bench/likelihood_rerank.py`);
    None when it records none or a value outside [0, 10]."""
    try:
        value = (manifest.get("search") or {}).get("likelihood_weight")
        value = None if value is None else float(value)
    except (TypeError, ValueError, AttributeError):
        return None
    return value if value is not None and 0.0 <= value <= 10.0 else None


def lexical_weight(manifest: dict[str, Any]) -> float:
    """The BM25 list's weight in the hybrid fusion that a bundle records (`search.lexical_weight`,
    chosen on a validation split by `bench/fusion_weights.py`); 1.0 when it records none."""
    try:
        value = float((manifest.get("search") or {}).get("lexical_weight", 1.0))
    except (TypeError, ValueError, AttributeError):
        return 1.0
    return value if 0.0 <= value <= 10.0 else 1.0
