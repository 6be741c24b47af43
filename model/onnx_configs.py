"""optimum-onnx export configurations for the CodeT5+ graphs (needs the `train` extra).

The decoder and decoder-with-past graphs use optimum's own `T5OnnxConfig` (it knows how to
flatten the KV cache) on `DecoderExport`, which projects only the last position. Two graphs are
specific to CodeT5+, so they get custom configs here:
- `CodeT5pEncoderOnnxConfig`: the encoder plus, when the model has the embedding head, the
  L2-normalised `embedding` output (first-position pooling -> `proj`);
- `CodeT5pMatchingOnnxConfig`: the matching head: text encoder states + `[ENC] code </s>` decoder
  ids -> `itm_logits` at each row's last `</s>`.
Each custom graph is exported from a small wrapper module (`EncoderExport`, `MatchingExport`)
whose `forward` signature names the graph inputs.
"""
from __future__ import annotations

from typing import Any

import torch
from optimum.exporters.onnx.base import OnnxConfig
from optimum.exporters.onnx.model_configs import T5OnnxConfig
from optimum.utils import NormalizedSeq2SeqConfig
from torch import nn

DEFAULT_OPSET = 17

ENCODER = "encoder"
DECODER = "decoder"
DECODER_WITH_PAST = "decoder_with_past"
MATCHING = "matching"


class EncoderExport(nn.Module):
    """Encoder graph: ids + mask -> `last_hidden_state` (+ `embedding` when the head exists)."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model
        self.config = model.config

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> dict[str, torch.Tensor]:
        hidden = self.model.encode(input_ids, attention_mask)
        out = {"last_hidden_state": hidden}
        if self.model.proj is not None:
            out["embedding"] = self.model.embed_from_hidden(hidden)
        return out


class DecoderExport(nn.Module):
    """Decoder graphs: like `T5ForConditionalGeneration.forward` (same input names, so optimum's
    `T5OnnxConfig` and cache flattening apply), but the LM head runs on the last position only:
    the runtime needs no other logits, and on a long forced prefix (decoder-only completion) the
    full `[t, vocab]` projection would cost more than the decoder itself."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model
        self.config = model.config

    def forward(self, decoder_input_ids: torch.Tensor, attention_mask: torch.Tensor,
                encoder_outputs: Any, past_key_values: Any = None, use_cache: bool | None = None) -> Any:
        from transformers.modeling_outputs import Seq2SeqLMOutput

        model = self.model
        out = model.decoder(input_ids=decoder_input_ids, encoder_hidden_states=encoder_outputs[0],
                            encoder_attention_mask=attention_mask, past_key_values=past_key_values,
                            use_cache=True, return_dict=True)
        last = out.last_hidden_state[:, -1:, :]
        if model.config.tie_word_embeddings:
            last = last * (model.model_dim ** -0.5)  # as T5ForConditionalGeneration.forward
        return Seq2SeqLMOutput(logits=model.lm_head(last), past_key_values=out.past_key_values)


class MatchingExport(nn.Module):
    """Matching graph: decoder `[ENC] code </s>` over text encoder states -> `itm_logits` [b, 2]."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model
        self.config = model.config

    def forward(self, decoder_input_ids: torch.Tensor, decoder_attention_mask: torch.Tensor,
                encoder_hidden_states: torch.Tensor, encoder_attention_mask: torch.Tensor) -> dict[str, torch.Tensor]:
        logits = self.model.match_logits(encoder_hidden_states, encoder_attention_mask,
                                         decoder_input_ids, decoder_attention_mask)
        return {"itm_logits": logits}


_NORMALIZED = NormalizedSeq2SeqConfig.with_args(
    hidden_size="d_model", num_attention_heads="num_heads", encoder_num_layers="num_layers",
    decoder_num_layers="num_decoder_layers", key_value_dim="d_kv", allow_new=True)


def _dummy_ids(batch: int, length: int, vocab: int) -> torch.Tensor:
    ids = torch.randint(5, max(6, vocab), (batch, length), dtype=torch.int64)
    return ids


def _dummy_mask(batch: int, length: int) -> torch.Tensor:
    mask = torch.ones(batch, length, dtype=torch.int64)
    if batch > 1 and length > 2:
        mask[1, -2:] = 0  # exercise right padding during tracing
    return mask


class CodeT5pEncoderOnnxConfig(OnnxConfig):
    """Encoder with an optional `embedding` output."""

    NORMALIZED_CONFIG_CLASS = _NORMALIZED
    DEFAULT_ONNX_OPSET = DEFAULT_OPSET
    ATOL_FOR_VALIDATION = 1e-4

    def __init__(self, config: Any, with_embedding: bool, **kwargs: Any) -> None:
        super().__init__(config, task="feature-extraction", **kwargs)
        self.with_embedding = with_embedding

    @property
    def inputs(self) -> dict[str, dict[int, str]]:
        return {"input_ids": {0: "batch_size", 1: "encoder_sequence_length"},
                "attention_mask": {0: "batch_size", 1: "encoder_sequence_length"}}

    @property
    def outputs(self) -> dict[str, dict[int, str]]:
        out = {"last_hidden_state": {0: "batch_size", 1: "encoder_sequence_length"}}
        if self.with_embedding:
            out["embedding"] = {0: "batch_size"}
        return out

    def generate_dummy_inputs(self, framework: str = "pt", **kwargs: Any) -> dict[str, torch.Tensor]:
        vocab = self._config.vocab_size
        return {"input_ids": _dummy_ids(2, 16, vocab), "attention_mask": _dummy_mask(2, 16)}


class CodeT5pMatchingOnnxConfig(OnnxConfig):
    """Matching head over the decoder (no KV cache: one pass per text/code pair)."""

    NORMALIZED_CONFIG_CLASS = _NORMALIZED
    DEFAULT_ONNX_OPSET = DEFAULT_OPSET
    ATOL_FOR_VALIDATION = 1e-4

    def __init__(self, config: Any, **kwargs: Any) -> None:
        super().__init__(config, task="feature-extraction", **kwargs)

    @property
    def inputs(self) -> dict[str, dict[int, str]]:
        return {"decoder_input_ids": {0: "batch_size", 1: "decoder_sequence_length"},
                "decoder_attention_mask": {0: "batch_size", 1: "decoder_sequence_length"},
                "encoder_hidden_states": {0: "batch_size", 1: "encoder_sequence_length"},
                "encoder_attention_mask": {0: "batch_size", 1: "encoder_sequence_length"}}

    @property
    def outputs(self) -> dict[str, dict[int, str]]:
        return {"itm_logits": {0: "batch_size"}}

    def generate_dummy_inputs(self, framework: str = "pt", **kwargs: Any) -> dict[str, torch.Tensor]:
        cfg = self._config
        return {"decoder_input_ids": _dummy_ids(2, 12, cfg.vocab_size),
                "decoder_attention_mask": _dummy_mask(2, 12),
                "encoder_hidden_states": torch.randn(2, 16, cfg.d_model),
                "encoder_attention_mask": _dummy_mask(2, 16)}


def models_and_configs(model: Any) -> dict[str, tuple[nn.Module, OnnxConfig]]:
    """The submodules to export, each with its ONNX config, keyed by graph name."""
    cfg = model.config
    mc = model.model_config
    out: dict[str, tuple[nn.Module, OnnxConfig]] = {
        ENCODER: (EncoderExport(model), CodeT5pEncoderOnnxConfig(cfg, with_embedding=mc.has_embedding_head)),
    }
    if mc.has_decoder:
        base = T5OnnxConfig(cfg, task="text2text-generation", use_past=True)
        decoder = DecoderExport(model)
        out[DECODER] = (decoder, base.with_behavior("decoder", use_past=True, use_past_in_inputs=False))
        out[DECODER_WITH_PAST] = (decoder, base.with_behavior("decoder", use_past=True, use_past_in_inputs=True))
    if mc.has_matching_head:
        out[MATCHING] = (MatchingExport(model), CodeT5pMatchingOnnxConfig(cfg))
    return out
