"""Move a trained model directory between machines in size-capped, compressed parts.

`pack_model_dir` stores the weights as float16 (or int8 with a float16 scale per output row of
every matrix: absmax / 127), puts them with `config.json` and `tokenizer.json` in an xz-compressed
tar, and splits that into parts of at most `max_part_bytes`. `unpack_model_dir` joins the parts,
checks their SHA-256, and writes an ordinary float32 model directory (`model.modeling` loads it).
Nothing is pickled: weights travel as safetensors, the rest as JSON.

`pack_corpus` puts a corpus directory's train files (all, or a share chosen by content hash, so
the same share every time), its pairs, tokenizer and held-out sets, and optionally an
instructions file, into one .tar.xz: what a training machine needs to run a recipe on it.
"""
from __future__ import annotations

import hashlib
import io
import json
import lzma
import tarfile
from pathlib import Path

import torch
from safetensors.torch import load, save

PRECISIONS = ("fp16", "int8")
MEMBERS = ("config.json", "tokenizer.json")


class TransferError(ValueError):
    """Parts are missing, damaged, or not a packed model directory."""


def compact_weights(weights: dict[str, torch.Tensor], precision: str) -> dict[str, torch.Tensor]:
    if precision not in PRECISIONS:
        raise TransferError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    out: dict[str, torch.Tensor] = {}
    for key, w in weights.items():
        w = w.float()
        if precision == "int8" and w.dim() == 2:
            scale = (w.abs().amax(dim=1, keepdim=True) / 127).clamp_min(1e-12)
            out[f"{key}::q8"] = torch.round(w / scale).clamp(-127, 127).to(torch.int8).contiguous()
            out[f"{key}::scale"] = scale.half().contiguous()
        else:
            out[key] = w.half().contiguous()
    return out


def expand_weights(compact: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for key, t in compact.items():
        if key.endswith("::scale"):
            continue
        if key.endswith("::q8"):
            base = key[:-len("::q8")]
            out[base] = (t.float() * compact[f"{base}::scale"].float()).contiguous()
        else:
            out[key] = t.float().contiguous()
    return out


def _kind_files(model_dir: Path) -> tuple[str, tuple[str, ...]]:
    """(weights file, other member files) of a T5-kind or smol-kind model directory."""
    from model.modeling import WEIGHTS_FILE
    from model.smol.model_dir import DEC_TOKENIZER, ENC_TOKENIZER, TRAINED_FILE

    if (model_dir / TRAINED_FILE).is_file():  # smol: the trained parts; the frozen decoder stays behind
        return TRAINED_FILE, ("config.json", ENC_TOKENIZER, DEC_TOKENIZER)
    return WEIGHTS_FILE, MEMBERS


def pack_model_dir(model_dir: Path, out_dir: Path, precision: str = "fp16",
                   max_part_bytes: int = 16 * 2**20 - 4096, name: str | None = None) -> list[Path]:
    """Write `<name>.pack.NN` parts and `<name>.pack.json` (sizes, hashes) into `out_dir`. A smol
    directory travels as its trained parts, config and two tokenizers (the decoder is imported)."""
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    name = name or model_dir.name
    weights_file, members = _kind_files(model_dir)
    weights = load((model_dir / weights_file).read_bytes())
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        blobs = {"weights.safetensors": save(compact_weights(weights, precision)),
                 **{m: (model_dir / m).read_bytes() for m in members}}
        for member, data in blobs.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    # trained weights are near-incompressible: preset 0 keeps ~all of preset 6's gain (30.6 vs
    # 30.3 MB for the small model in fp16) at a fraction of the time
    blob = lzma.compress(buf.getvalue(), preset=0)
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = []
    for i in range(0, len(blob), max_part_bytes):
        part = out_dir / f"{name}.pack.{i // max_part_bytes:02d}"
        part.write_bytes(blob[i:i + max_part_bytes])
        parts.append(part)
    meta = {"name": name, "precision": precision, "parts": [p.name for p in parts],
            "sha256": hashlib.sha256(blob).hexdigest(), "bytes": len(blob),
            "weights_file": weights_file, "members": list(members)}
    (out_dir / f"{name}.pack.json").write_text(json.dumps(meta, indent=2) + "\n")
    return parts


def unpack_model_dir(meta_path: Path, out_dir: Path) -> Path:
    """Rebuild the float32 model directory described by `<name>.pack.json` into `out_dir`."""
    from model.modeling import WEIGHTS_FILE
    from safetensors.torch import save_file

    meta_path = Path(meta_path)
    try:
        meta = json.loads(meta_path.read_text())
        parts = [meta_path.parent / p for p in meta["parts"]]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise TransferError(f"{meta_path}: not a pack description ({exc})") from exc
    missing = [str(p) for p in parts if not p.is_file()]
    if missing:
        raise TransferError(f"{meta_path}: missing part(s) {', '.join(missing)}")
    blob = b"".join(p.read_bytes() for p in parts)
    if hashlib.sha256(blob).hexdigest() != meta.get("sha256"):
        raise TransferError(f"{meta_path}: the parts do not match the recorded SHA-256 (damaged or mixed)")
    with tarfile.open(fileobj=io.BytesIO(lzma.decompress(blob)), mode="r") as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    members = meta.get("members", list(MEMBERS))
    absent = [m for m in list(members) + ["weights.safetensors"] if m not in files]
    if absent:
        raise TransferError(f"{meta_path}: the pack lacks {', '.join(absent)}")
    for member in members:
        (out_dir / Path(member).name).write_bytes(files[member])
    save_file(expand_weights(load(files["weights.safetensors"])), str(out_dir / Path(meta.get("weights_file", WEIGHTS_FILE)).name))
    return out_dir


CORPUS_MEMBERS = ("pairs/train.jsonl", "pairs/valid.jsonl", "tokenizer/tokenizer.json",
                  "heldout/retrieval.jsonl", "heldout/summarize.jsonl", "heldout/heldout.json",
                  "data_card.json", "data_card.md", "tokens.json")


def pack_corpus(corpus: Path, out: Path, train_fraction: float = 1.0,
                instructions: Path | None = None) -> dict[str, int]:
    """Write `out` (.tar.xz) with `corpus/...` and `instruct/train.jsonl`; returns counts."""
    corpus = Path(corpus)
    train = corpus / "files" / "train.jsonl"
    if not train.is_file():
        raise TransferError(f"{corpus}: no files/train.jsonl (not a corpus directory)")
    threshold = int(train_fraction * 2**32)
    kept, total = io.BytesIO(), 0
    with train.open("rb") as fh:
        for line in fh:
            total += 1
            if int.from_bytes(hashlib.sha256(line).digest()[:4], "big") < threshold:
                kept.write(line)
    stats = {"train_files": total, "kept_files": kept.getvalue().count(b"\n")}
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out, mode="w:xz", preset=6) as tar:
        info = tarfile.TarInfo("corpus/files/train.jsonl")
        info.size = len(kept.getvalue())
        tar.addfile(info, io.BytesIO(kept.getvalue()))
        for member in CORPUS_MEMBERS:
            if (corpus / member).is_file():
                tar.add(corpus / member, arcname=f"corpus/{member}")
        if instructions is not None:
            tar.add(instructions, arcname="instruct/train.jsonl")
    stats["bytes"] = out.stat().st_size
    return stats
