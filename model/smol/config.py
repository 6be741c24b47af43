"""`SmolConfig`: shapes of a shallow-encoder / frozen-deep-decoder model (torch-free).

The encoder is a BERT (all-MiniLM-L6-v2 shape), the decoder a LLaMA (SmolLM2-135M shape) with a
cross-attention block inserted after the self-attention of each layer in `cross_layers`. The
cross-attention reads the encoder states directly (its key/value projections map encoder width
to decoder width), and its output projection starts at zero, so an untrained model decodes
exactly like the original decoder. Heads: embedding (masked mean pool -> Linear(enc, embed_dim),
identity-initialised -> L2) and matching (final decoder state of the last token -> Linear(d, 2)).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

KIND = "smol"


@dataclass(frozen=True)
class SmolConfig:
    """Shape of the two halves and the joining blocks."""

    name: str
    # encoder: BERT
    enc_vocab_size: int = 30522
    enc_hidden: int = 384
    enc_layers: int = 6
    enc_heads: int = 12
    enc_intermediate: int = 1536
    enc_max_positions: int = 512
    enc_layer_norm_eps: float = 1e-12
    enc_pad_id: int = 0
    enc_cls_id: int = 101
    enc_sep_id: int = 102
    # decoder: LLaMA
    vocab_size: int = 49152
    d_model: int = 576
    num_layers: int = 30
    num_heads: int = 9
    num_kv_heads: int = 3
    head_dim: int = 64
    d_ff: int = 1536
    rope_theta: float = 100000.0
    rms_norm_eps: float = 1e-5
    tie_word_embeddings: bool = True
    eos_ids: tuple[int, ...] = (0, 2)  # <|endoftext|>, <|im_end|>
    pad_id: int = 2
    # joining blocks and heads
    cross_layers: tuple[int, ...] = (29,)
    embed_dim: int = 384
    max_source_length: int = 256  # encoder tokens
    max_prefix_length: int = 1024  # decoder prompt tokens
    max_target_length: int = 128
    kind: str = KIND

    def __post_init__(self) -> None:
        object.__setattr__(self, "cross_layers", tuple(int(i) for i in self.cross_layers))
        object.__setattr__(self, "eos_ids", tuple(int(i) for i in self.eos_ids))
        bad = [i for i in self.cross_layers if not 0 <= i < self.num_layers]
        if bad:
            raise ValueError(f"cross_layers {bad} outside the decoder's {self.num_layers} layers")
        if self.num_heads % self.num_kv_heads:
            raise ValueError("num_heads must be a multiple of num_kv_heads")

    def replace(self, **changes: Any) -> "SmolConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["cross_layers"] = list(self.cross_layers)
        data["eos_ids"] = list(self.eos_ids)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SmolConfig":
        """Build from a dict, rejecting unknown keys with a clear message."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown smol config keys: {', '.join(unknown)}")
        if data.get("kind", KIND) != KIND:
            raise ValueError(f"config kind is {data.get('kind')!r}, expected {KIND!r}")
        return cls(**data)

    @property
    def has_decoder(self) -> bool:
        return True

    @property
    def has_embedding_head(self) -> bool:
        return True

    @property
    def has_matching_head(self) -> bool:
        return True

    def trainable_parameters(self) -> int:
        """Encoder + cross-attention blocks + heads (the decoder itself stays frozen)."""
        h, ff, v = self.enc_hidden, self.enc_intermediate, self.enc_vocab_size
        layer = 4 * (h * h + h) + 2 * h + (h * ff + ff) + (ff * h + h) + 2 * h
        encoder = (v + self.enc_max_positions + 2) * h + 2 * h + self.enc_layers * layer
        d, inner = self.d_model, self.num_heads * self.head_dim
        cross = d + d * inner + 2 * h * inner + inner * d  # norm, q, k, v (from encoder width), o
        heads = h * self.embed_dim + self.embed_dim + d * 2 + 2
        return encoder + len(self.cross_layers) * cross + heads

    def decoder_parameters(self) -> int:
        d, f = self.d_model, self.d_ff
        kv = self.num_kv_heads * self.head_dim
        layer = d * self.num_heads * self.head_dim * 2 + 2 * d * kv + 3 * d * f + 2 * d
        total = self.vocab_size * d + self.num_layers * layer + d
        return total if self.tie_word_embeddings else total + self.vocab_size * d


SMOL_CONFIGS: dict[str, SmolConfig] = {
    # all-MiniLM-L6-v2 + SmolLM2-135M, cross-attention in the top decoder layer (the paper's choice)
    "smol": SmolConfig(name="smol"),
    # the same with cross-attention in the top three layers (the 1-vs-few A/B)
    "smol-x3": SmolConfig(name="smol-x3", cross_layers=(27, 28, 29)),
    # test-sized: a few thousand parameters per block, any small BPE / WordPiece pair
    "smol-tiny": SmolConfig(
        name="smol-tiny", enc_vocab_size=30522, enc_hidden=32, enc_layers=2, enc_heads=4,
        enc_intermediate=64, enc_max_positions=128, vocab_size=512, d_model=48, num_layers=3,
        num_heads=3, num_kv_heads=1, head_dim=16, d_ff=96, cross_layers=(2,), embed_dim=32,
        max_source_length=64, max_prefix_length=128, max_target_length=32, eos_ids=(0,), pad_id=0,
    ),
}


def get_smol_config(name: str, **overrides: Any) -> SmolConfig:
    try:
        base = SMOL_CONFIGS[name]
    except KeyError:
        raise ValueError(f"unknown smol config {name!r}; known: {', '.join(sorted(SMOL_CONFIGS))}") from None
    return base.replace(**overrides) if overrides else base
