"""Named model configurations (tiny, small, and the published codet5p-220m/770m shapes).

A `ModelConfig` is a plain dataclass, serialisable to JSON, that carries everything needed to
rebuild the torch model or to check an exported bundle. `to_t5_config()` turns it into a
`transformers.T5Config` (imported lazily so this module stays torch-free).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

EMBED_DIM = 256


@dataclass(frozen=True)
class ModelConfig:
    """Shape and heads of a CodeT5+ encoder-decoder."""

    name: str
    vocab_size: int
    d_model: int
    d_kv: int
    d_ff: int
    num_layers: int
    num_decoder_layers: int
    num_heads: int
    relative_attention_num_buckets: int = 32
    relative_attention_max_distance: int = 128
    dropout_rate: float = 0.1
    layer_norm_epsilon: float = 1e-6
    feed_forward_proj: str = "relu"
    tie_word_embeddings: bool = True
    pad_token_id: int = 0
    bos_token_id: int = 1
    eos_token_id: int = 2
    decoder_start_token_id: int = 0
    embed_dim: int = EMBED_DIM
    has_embedding_head: bool = True
    has_matching_head: bool = True
    has_decoder: bool = True
    max_source_length: int = 512
    max_target_length: int = 256
    extra: dict[str, Any] = field(default_factory=dict)

    def with_vocab(self, vocab_size: int) -> "ModelConfig":
        """Return a copy sized for a tokenizer with `vocab_size` entries."""
        return dataclasses.replace(self, vocab_size=vocab_size)

    def replace(self, **changes: Any) -> "ModelConfig":
        """Return a copy with `changes` applied."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        """Build from a dict, rejecting unknown keys with a clear message."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown model config keys: {', '.join(unknown)}")
        missing = sorted(f.name for f in dataclasses.fields(cls)
                         if f.name not in data and f.default is dataclasses.MISSING
                         and f.default_factory is dataclasses.MISSING)  # type: ignore[misc]
        if missing:
            raise ValueError(f"model config is missing keys: {', '.join(missing)}")
        return cls(**data)

    def to_t5_config(self) -> Any:
        """The equivalent `transformers.T5Config` (lazy import: needs the train extra)."""
        from transformers import T5Config

        return T5Config(
            vocab_size=self.vocab_size,
            d_model=self.d_model,
            d_kv=self.d_kv,
            d_ff=self.d_ff,
            num_layers=self.num_layers,
            num_decoder_layers=self.num_decoder_layers,
            num_heads=self.num_heads,
            relative_attention_num_buckets=self.relative_attention_num_buckets,
            relative_attention_max_distance=self.relative_attention_max_distance,
            dropout_rate=self.dropout_rate,
            layer_norm_epsilon=self.layer_norm_epsilon,
            feed_forward_proj=self.feed_forward_proj,
            tie_word_embeddings=self.tie_word_embeddings,
            pad_token_id=self.pad_token_id,
            bos_token_id=self.bos_token_id,
            eos_token_id=self.eos_token_id,
            decoder_start_token_id=self.decoder_start_token_id,
            is_encoder_decoder=True,
            use_cache=True,
        )

    def num_parameters(self) -> int:
        """Parameter count computed from the shapes (no torch needed)."""
        d, inner, ff = self.d_model, self.num_heads * self.d_kv, self.d_ff
        attn = 4 * d * inner
        ffn = 2 * d * ff
        enc_layer = attn + ffn + 2 * d
        dec_layer = 2 * attn + ffn + 3 * d
        rel = self.relative_attention_num_buckets * self.num_heads
        total = self.vocab_size * d + self.num_layers * enc_layer + rel + d
        if self.has_decoder:
            total += self.num_decoder_layers * dec_layer + rel + d
            if not self.tie_word_embeddings:
                total += self.vocab_size * d
        if self.has_embedding_head:
            total += d * self.embed_dim + self.embed_dim
        if self.has_matching_head:
            total += d * 2 + 2
        return total


# vocab_size of tiny/small is the target BPE size plus 5 base specials, 100 sentinels and
# 3 task tokens; `with_vocab()` resizes them to the tokenizer actually trained.
CONFIGS: dict[str, ModelConfig] = {
    "tiny": ModelConfig(
        name="tiny", vocab_size=1000 + 103, d_model=64, d_kv=16, d_ff=128, num_layers=2,
        num_decoder_layers=2, num_heads=4, relative_attention_num_buckets=8,
        relative_attention_max_distance=32, dropout_rate=0.0, embed_dim=32,
        max_source_length=256, max_target_length=128,
    ),
    "small": ModelConfig(
        name="small", vocab_size=16384 + 103, d_model=320, d_kv=64, d_ff=1280, num_layers=4,
        num_decoder_layers=4, num_heads=5, dropout_rate=0.1, embed_dim=EMBED_DIM,
        max_source_length=512, max_target_length=256,
    ),
    "codet5p-220m": ModelConfig(
        name="codet5p-220m", vocab_size=32100, d_model=768, d_kv=64, d_ff=3072, num_layers=12,
        num_decoder_layers=12, num_heads=12, has_embedding_head=False, has_matching_head=False,
    ),
    "codet5p-770m": ModelConfig(
        name="codet5p-770m", vocab_size=32100, d_model=1024, d_kv=64, d_ff=4096, num_layers=24,
        num_decoder_layers=24, num_heads=16, has_embedding_head=False, has_matching_head=False,
    ),
    "codet5p-110m-embedding": ModelConfig(
        name="codet5p-110m-embedding", vocab_size=32103, d_model=768, d_kv=64, d_ff=3072,
        num_layers=12, num_decoder_layers=0, num_heads=12, has_decoder=False,
        has_embedding_head=True, has_matching_head=False,
    ),
    "codet5p-220m-bimodal": ModelConfig(
        name="codet5p-220m-bimodal", vocab_size=32103, d_model=768, d_kv=64, d_ff=3072,
        num_layers=12, num_decoder_layers=12, num_heads=12, has_embedding_head=True,
        has_matching_head=True,
    ),
}


def get_config(name: str, **overrides: Any) -> ModelConfig:
    """Return the named config with `overrides` applied; a clear error for unknown names."""
    try:
        base = CONFIGS[name]
    except KeyError:
        raise ValueError(f"unknown model config {name!r}; known: {', '.join(sorted(CONFIGS))}") from None
    return base.replace(**overrides) if overrides else base
