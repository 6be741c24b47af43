"""Torch CodeT5+ modules: the T5 encoder-decoder plus the embedding and matching heads.

`CodeT5p` subclasses `transformers.T5ForConditionalGeneration`, so its state-dict keys follow the
Salesforce checkpoints (`shared`, `encoder.*`, `decoder.*`, `lm_head`, `proj`, `itm_head`):
- embedding head (as codet5p-110m-embedding): encoder state at position 0 -> `proj`
  Linear(d, 256) -> L2 normalise;
- matching head (as codet5p-220m-bimodal): decoder `[ENC] code </s>` cross-attending to the text,
  the last `</s>` state of the last layer -> `itm_head` Linear(d, 2) (logit 1 = match).

A model directory holds `config.json` (a `ModelConfig`), `model.safetensors` and
`tokenizer.json`; `save_model_dir` / `load_model_dir` write and read it (no pickles).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import T5ForConditionalGeneration

from model.config import ModelConfig

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


class ModelDirError(ValueError):
    """A model directory is missing a file or its weights do not fit its config."""


class CodeT5p(T5ForConditionalGeneration):
    """T5 encoder-decoder with optional CodeT5+ embedding (`proj`) and matching (`itm_head`) heads."""

    def __init__(self, config: ModelConfig) -> None:
        t5 = config.to_t5_config()
        if not config.has_decoder:
            t5.num_decoder_layers = 1  # transformers cannot build a 0-layer T5Stack; emptied below
        super().__init__(t5)
        if not config.has_decoder:  # encoder-only (codet5p-110m-embedding): no decoder blocks
            self.decoder.block = nn.ModuleList()
            self.config.num_decoder_layers = 0
        self.model_config = config
        self.proj = nn.Linear(config.d_model, config.embed_dim) if config.has_embedding_head else None
        self.itm_head = nn.Linear(config.d_model, 2) if config.has_matching_head else None
        if self.proj is not None:
            self._init_weights(self.proj)
        if self.itm_head is not None:
            self._init_weights(self.itm_head)

    # -- heads -----------------------------------------------------------------------------
    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """[batch, seq] -> [batch, embed_dim] unit vectors (first-position pooling)."""
        if self.proj is None:
            raise ValueError(f"model {self.model_config.name!r} has no embedding head")
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.embed_from_hidden(hidden)

    def embed_from_hidden(self, encoder_hidden: torch.Tensor) -> torch.Tensor:
        """Pool position 0 of encoder states [batch, seq, d] and project to unit vectors."""
        assert self.proj is not None
        return F.normalize(self.proj(encoder_hidden[:, 0, :]), dim=-1)

    def match_logits(self, encoder_hidden: torch.Tensor, encoder_mask: torch.Tensor,
                     decoder_input_ids: torch.Tensor, decoder_mask: torch.Tensor) -> torch.Tensor:
        """Matching logits [batch, 2] for decoder `[ENC] code </s>` over the text's encoder states."""
        if self.itm_head is None:
            raise ValueError(f"model {self.model_config.name!r} has no matching head")
        dec = self.decoder(input_ids=decoder_input_ids, attention_mask=decoder_mask,
                           encoder_hidden_states=encoder_hidden,
                           encoder_attention_mask=encoder_mask).last_hidden_state
        last = decoder_mask.long().sum(dim=1) - 1  # index of each row's final </s>
        state = dec[torch.arange(dec.size(0), device=dec.device), last]
        return self.itm_head(state)

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Encoder last hidden states [batch, seq, d]."""
        return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


def build_model(config: ModelConfig, seed: int | None = None) -> CodeT5p:
    """A freshly initialised model (deterministic when `seed` is given)."""
    if seed is not None:
        torch.manual_seed(seed)
    return CodeT5p(config)


def state_dict_for_save(model: CodeT5p) -> dict[str, torch.Tensor]:
    """Contiguous, de-aliased tensors (tied embeddings are stored once, as `shared.weight`)."""
    out: dict[str, torch.Tensor] = {}
    seen: dict[int, str] = {}
    for key, tensor in model.state_dict().items():
        ptr = tensor.data_ptr()
        if ptr in seen and tensor.numel() > 0:
            continue
        seen[ptr] = key
        out[key] = tensor.detach().contiguous().cpu()
    return out


def save_model_dir(model: CodeT5p, tokenizer: Any, directory: str | Path,
                   extra: dict[str, Any] | None = None) -> Path:
    """Write config.json, model.safetensors and tokenizer.json into `directory`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    payload = {"model": model.model_config.to_dict(), **(extra or {})}
    (directory / CONFIG_FILE).write_text(json.dumps(payload, indent=2, sort_keys=True))
    save_file(state_dict_for_save(model), str(directory / WEIGHTS_FILE))
    tokenizer.save(directory)
    return directory


def read_model_config(directory: str | Path) -> ModelConfig:
    """The `ModelConfig` of a model directory, with a clear error naming the file."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise ModelDirError(f"{path}: missing")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return ModelConfig.from_dict(data["model"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ModelDirError(f"{path}: not a model config ({exc})") from exc


def load_model_dir(directory: str | Path, map_location: str = "cpu") -> tuple[CodeT5p, Any]:
    """Load (model, tokenizer) from a model directory written by `save_model_dir`."""
    from model.tokenizer import CodeTokenizer

    directory = Path(directory)
    config = read_model_config(directory)
    tokenizer = CodeTokenizer.from_file(directory)
    if tokenizer.vocab_size > config.vocab_size:
        raise ModelDirError(f"{directory / 'tokenizer.json'}: {tokenizer.vocab_size} tokens but the "
                            f"model has {config.vocab_size} embeddings")
    weights = directory / WEIGHTS_FILE
    if not weights.is_file():
        raise ModelDirError(f"{weights}: missing")
    try:
        state = load_file(str(weights), device=map_location)
    except Exception as exc:  # safetensors raises SafetensorError / OSError
        raise ModelDirError(f"{weights}: unreadable safetensors ({exc})") from exc
    model = CodeT5p(config)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if k not in ("lm_head.weight", "encoder.embed_tokens.weight",
                                               "decoder.embed_tokens.weight")]
    if missing or unexpected:
        raise ModelDirError(f"{weights}: does not fit config {config.name!r} "
                            f"(missing {missing[:5]}, unexpected {unexpected[:5]})")
    if config.tie_word_embeddings:
        model.tie_weights()
    model.eval()
    return model, tokenizer
