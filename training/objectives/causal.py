"""The two stage-1 causal LM objectives.

- Seq2seq causal LM: a pivot drawn uniformly in [10%, 90%] of the chunk splits it; the encoder
  reads `[CLM] prefix </s>` and the decoder generates the rest (`model.formats.seq2seq_clm_example`).
- Decoder-only causal LM: the encoder reads only `[CLM] </s>` and the decoder generates the whole
  chunk (`model.formats.decoder_only_example`), training the mode the runtime uses for completion.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from model.formats import Example, decoder_only_example, seq2seq_clm_example
from training.objectives.base import PreTokenized, Seq2SeqObjective


def pick_pivot(length: int, rng: np.random.Generator, low: float = 0.1, high: float = 0.9) -> int:
    """A split point uniform in [low*length, high*length], kept inside 1..length-1."""
    lo = max(1, int(np.ceil(low * length)))
    hi = max(lo, min(length - 1, int(np.floor(high * length))))
    return int(rng.integers(lo, hi + 1))


class Seq2SeqCausalLM(Seq2SeqObjective):
    """Encoder `[CLM] prefix`, decoder the continuation."""

    name = "seq2seq_clm"
    kind = "chunks"

    def __init__(self, tokenizer: Any, model: Any, low: float = 0.1, high: float = 0.9) -> None:
        super().__init__(tokenizer, model)
        self.low, self.high = low, high

    def example(self, sample: Sequence[int], rng: np.random.Generator) -> Example:
        ids = list(sample)
        pivot = pick_pivot(len(ids), rng, self.low, self.high)
        return seq2seq_clm_example(self.tok, ids[:pivot], ids[pivot:], self.max_source_length,
                                   self.max_target_length)


class DecoderOnlyCausalLM(Seq2SeqObjective):
    """Encoder `[CLM]` only, decoder the whole chunk."""

    name = "decoder_clm"
    kind = "chunks"

    def example(self, sample: Sequence[int], rng: np.random.Generator) -> Example:
        return decoder_only_example(PreTokenized(self.tok, sample), "", self.max_target_length)
