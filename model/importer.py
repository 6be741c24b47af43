"""Import a local Salesforce CodeT5+ checkpoint directory into a model directory and a bundle.

Supported (by `config.json` `architectures`): `T5ForConditionalGeneration` (codet5p-220m/770m),
`CodeT5pEmbeddingModel` (codet5p-110m-embedding) and `CodeT5pBimodalModel`
(codet5p-220m-bimodal). Nothing from the directory is executed: `auto_map` modules are never
imported (no `trust_remote_code`), the config is read as JSON, weights come from
`model.safetensors` (or `pytorch_model.bin` only with `allow_bin=True`, through
`torch.load(weights_only=True)`), and the tokenizer from `vocab.json` + `merges.txt`
(+ `added_tokens.json`). Needs the `train` extra (torch).
"""
from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

from model.config import EMBED_DIM, ModelConfig
from model.tokenizer import CodeTokenizer, TokenizerError

log = logging.getLogger(__name__)

ARCHITECTURES = {
    "T5ForConditionalGeneration": "seq2seq",
    "CodeT5pEmbeddingModel": "embedding",
    "CodeT5pBimodalModel": "bimodal",
}
SAFETENSORS = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"
PICKLE_BIN = "pytorch_model.bin"
# Keys a checkpoint may omit because they alias `shared.weight` (tied embeddings).
ALIASES = ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight")


class ImportError_(ValueError):
    """The checkpoint directory cannot be imported; the message names the file and the fault."""


def read_hf_config(src: Path) -> tuple[dict[str, Any], str]:
    """The parsed `config.json` and the checkpoint kind (seq2seq / embedding / bimodal)."""
    path = src / "config.json"
    if not path.is_file():
        raise ImportError_(f"{path}: missing (not a Hugging Face checkpoint directory?)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportError_(f"{path}: not valid JSON ({exc})") from exc
    archs = data.get("architectures") or []
    if not isinstance(archs, list) or len(archs) != 1 or archs[0] not in ARCHITECTURES:
        raise ImportError_(f"{path}: unsupported architecture {archs!r} (model_type "
                           f"{data.get('model_type')!r}); supported: {', '.join(ARCHITECTURES)}")
    return data, ARCHITECTURES[archs[0]]


def model_config_from_hf(data: dict[str, Any], kind: str, name: str) -> ModelConfig:
    """Translate HF T5-style config fields into a `ModelConfig`."""
    try:
        num_layers = int(data["num_layers"])
        return ModelConfig(
            name=name, vocab_size=int(data["vocab_size"]), d_model=int(data["d_model"]),
            d_kv=int(data["d_kv"]), d_ff=int(data["d_ff"]), num_layers=num_layers,
            num_decoder_layers=0 if kind == "embedding" else int(data.get("num_decoder_layers") or num_layers),
            num_heads=int(data["num_heads"]),
            relative_attention_num_buckets=int(data.get("relative_attention_num_buckets", 32)),
            relative_attention_max_distance=int(data.get("relative_attention_max_distance", 128)),
            dropout_rate=float(data.get("dropout_rate", 0.1)),
            layer_norm_epsilon=float(data.get("layer_norm_epsilon", 1e-6)),
            feed_forward_proj=str(data.get("feed_forward_proj", "relu")),
            tie_word_embeddings=bool(data.get("tie_word_embeddings", True)),
            pad_token_id=int(data.get("pad_token_id", 0)), bos_token_id=int(data.get("bos_token_id", 1)),
            eos_token_id=int(data.get("eos_token_id", 2)),
            decoder_start_token_id=int(data.get("decoder_start_token_id", 0)),
            embed_dim=int(data.get("embed_dim", EMBED_DIM)),
            has_embedding_head=kind in ("embedding", "bimodal"),
            has_matching_head=kind == "bimodal", has_decoder=kind != "embedding",
            extra={"imported_from": data.get("_name_or_path", name), "architectures": data.get("architectures")},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ImportError_(f"config.json: missing or bad field ({exc})") from exc


def read_weights(src: Path, allow_bin: bool = False) -> dict[str, Any]:
    """The checkpoint's state dict: safetensors, or a pickle only via `weights_only` behind a flag."""
    import torch
    from safetensors.torch import load_file

    single, index, pickle_bin = src / SAFETENSORS, src / SAFETENSORS_INDEX, src / PICKLE_BIN
    try:
        if single.is_file():
            return load_file(str(single))
        if index.is_file():
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
            state: dict[str, Any] = {}
            for shard in shards:
                if "/" in shard or shard.startswith("."):
                    raise ImportError_(f"{index}: unsafe shard name {shard!r}")
                state.update(load_file(str(src / shard)))
            return state
    except ImportError_:
        raise
    except Exception as exc:  # safetensors raises SafetensorError / OSError
        raise ImportError_(f"{single if single.is_file() else index}: unreadable safetensors ({exc})") from exc
    if pickle_bin.is_file():
        if not allow_bin:
            raise ImportError_(f"{pickle_bin}: only a pickle checkpoint is present; pass --allow-bin to "
                               f"read it with torch.load(weights_only=True), or convert it to safetensors")
        try:
            state = torch.load(str(pickle_bin), map_location="cpu", weights_only=True)
        except Exception as exc:  # weights_only rejects anything but tensors and plain containers
            raise ImportError_(f"{pickle_bin}: refused by torch.load(weights_only=True) ({exc})") from exc
        if not isinstance(state, dict):
            raise ImportError_(f"{pickle_bin}: not a state dict")
        return state
    raise ImportError_(f"{src}: no {SAFETENSORS} (or {PICKLE_BIN} with --allow-bin) found")


def read_tokenizer(src: Path) -> CodeTokenizer:
    """The Salesforce tokenizer files (sentinels stored in vocab.json come back special)."""
    try:
        return CodeTokenizer.from_salesforce(src) if (src / "vocab.json").is_file() else CodeTokenizer.from_file(src)
    except TokenizerError as exc:
        raise ImportError_(str(exc)) from exc


def convert(src: str | Path, model_dir: str | Path, allow_bin: bool = False) -> Path:
    """Convert the HF checkpoint `src` into a model directory (config.json, safetensors, tokenizer)."""
    import torch

    from model.modeling import CodeT5p, save_model_dir

    src = Path(src)
    if not src.is_dir():
        raise ImportError_(f"{src}: not a directory")
    data, kind = read_hf_config(src)
    config = model_config_from_hf(data, kind, name=src.name)
    tok = read_tokenizer(src)
    state = read_weights(src, allow_bin)
    weights_file = src / (SAFETENSORS if (src / SAFETENSORS).is_file() else PICKLE_BIN)
    grow = tok.vocab_size - config.vocab_size
    if grow > 0:  # e.g. codet5p-220m: 32100 rows, the task tokens make 32103
        config = config.with_vocab(tok.vocab_size)
    model = CodeT5p(config)
    target = model.state_dict()
    unexpected = [k for k in state if k not in target]
    if unexpected:
        raise ImportError_(f"{weights_file}: keys that do not fit a {kind} CodeT5+ model: {unexpected[:5]}")
    loaded: dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        tensor = tensor.float()
        want = target[key].shape
        if key in ("shared.weight", "lm_head.weight", *ALIASES) and grow > 0 and tensor.shape[0] + grow == want[0]:
            tensor = torch.cat([tensor, tensor.mean(dim=0, keepdim=True).expand(grow, -1)], dim=0)
        if tensor.shape != want:
            raise ImportError_(f"{weights_file}: {key} has shape {tuple(tensor.shape)} but config.json "
                               f"implies {tuple(want)}")
        loaded[key] = tensor
    optional = set(ALIASES)
    if config.tie_word_embeddings:
        optional.add("lm_head.weight")
    if not config.has_decoder:
        optional.update(k for k in target if k.startswith("decoder.") or k == "lm_head.weight")
    missing = [k for k in target if k not in loaded and k not in optional]
    if missing:
        raise ImportError_(f"{weights_file}: missing weights for a {kind} model: {missing[:5]}")
    model.load_state_dict(loaded, strict=False)
    if config.tie_word_embeddings:
        model.tie_weights()
    model.eval()
    log.info("imported %s (%s, %d params) from %s", config.name, kind,
             sum(p.numel() for p in model.parameters()), src)
    return save_model_dir(model, tok, model_dir, extra={"imported_from": str(src.resolve()), "kind": kind})


def import_checkpoint(src: str | Path, out_bundle: str | Path, allow_bin: bool = False,
                      model_dir: str | Path | None = None, options: Any = None) -> Path:
    """`model import`: HF checkpoint dir -> model directory (temporary unless given) -> bundle."""
    from model.export import ExportOptions, export_bundle

    options = options or ExportOptions()
    if model_dir is not None:
        return export_bundle(convert(src, model_dir, allow_bin), out_bundle, options)
    with tempfile.TemporaryDirectory(prefix="codet5p-import-") as tmp:
        return export_bundle(convert(src, Path(tmp) / "model", allow_bin), out_bundle, options)
