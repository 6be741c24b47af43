"""Span denoising (T5 span corruption), stage 1.

15% of a chunk's tokens are corrupted in spans of mean length 3 (the T5
`random_spans_noise_mask` algorithm: the sequence alternates non-noise/noise runs, starting with
non-noise). Each noise span becomes one sentinel `<extra_id_i>` in the encoder input; the target
lists `<extra_id_i>` + span for every span and closes with the next sentinel when the chunk ends
in non-noise, then `</s>`:

    tokens  a b c d e f        mask 0 1 1 0 1 0
    encoder a <0> d <1> f </s>
    target  <0> b c <1> e <2> </s>

With probability `fim_rate` a chunk instead becomes one fill-in-the-middle example (one span,
the `model.formats.fim_example_ids` shape the runtime uses). Spans are token-level, not
whole-word.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from model.formats import Example, fim_example_ids
from training.objectives.base import Seq2SeqObjective


def _segment(num_items: int, num_segments: int, rng: np.random.Generator) -> np.ndarray:
    """Split `num_items` into `num_segments` positive lengths uniformly at random."""
    if num_segments == 1:
        return np.array([num_items])
    cuts = np.sort(rng.choice(num_items - 1, num_segments - 1, replace=False)) + 1
    return np.diff(np.concatenate([[0], cuts, [num_items]]))


def random_spans_noise_mask(length: int, rng: np.random.Generator, noise_density: float = 0.15,
                            mean_span_length: float = 3.0) -> np.ndarray:
    """Boolean mask of `length` with ~noise_density True in spans of mean `mean_span_length`."""
    if length < 2:
        return np.zeros(length, dtype=bool)
    num_noise = int(round(length * noise_density))
    num_noise = min(max(num_noise, 1), length - 1)
    num_spans = max(int(round(num_noise / mean_span_length)), 1)
    num_spans = min(num_spans, num_noise, length - num_noise)
    noise_lengths = _segment(num_noise, num_spans, rng)
    keep_lengths = _segment(length - num_noise, num_spans, rng)
    mask = np.zeros(length, dtype=bool)
    pos = 0
    for keep, noise in zip(keep_lengths, noise_lengths):
        pos += int(keep)
        mask[pos:pos + int(noise)] = True
        pos += int(noise)
    return mask


def span_corruption(ids: Sequence[int], mask: np.ndarray, sentinel_ids: Sequence[int],
                    eos_id: int) -> Example:
    """The encoder input and target of span corruption for a given noise `mask`.

    Span i becomes `<extra_id_i>` in the encoder; the target is `<extra_id_i> span_i` for each
    span, plus a closing sentinel when the sequence ends in non-noise (T5's layout).
    """
    mask = np.asarray(mask, dtype=bool)
    if len(mask) != len(ids):
        raise ValueError(f"mask length {len(mask)} != sequence length {len(ids)}")
    encoder: list[int] = []
    target: list[int] = []
    spans = 0
    for i, (tok, noisy) in enumerate(zip(ids, mask)):
        if noisy:
            if i == 0 or not mask[i - 1]:
                if spans >= len(sentinel_ids):
                    raise ValueError(f"more than {len(sentinel_ids)} noise spans")
                encoder.append(sentinel_ids[spans])
                target.append(sentinel_ids[spans])
                spans += 1
            target.append(int(tok))
        else:
            encoder.append(int(tok))
    if spans and len(mask) and not mask[-1]:
        target.append(sentinel_ids[spans])
    return Example(encoder + [eos_id], [], target + [eos_id])


class SpanDenoising(Seq2SeqObjective):
    """Stage-1 span denoising over token chunks."""

    name = "denoise"
    kind = "chunks"

    def __init__(self, tokenizer: Any, model: Any, noise_density: float = 0.15,
                 mean_span_length: float = 3.0, fim_rate: float = 0.0) -> None:
        super().__init__(tokenizer, model)
        self.noise_density = noise_density
        self.mean_span_length = mean_span_length
        self.fim_rate = fim_rate

    def example(self, sample: Sequence[int], rng: np.random.Generator) -> Example:
        ids = list(sample)[: self.max_source_length - 1]
        if self.fim_rate > 0 and len(ids) >= 3 and rng.random() < self.fim_rate:
            start = int(rng.integers(1, len(ids) - 1))
            span = int(rng.integers(1, max(2, min(len(ids) - start, self.max_target_length - 1))))
            return fim_example_ids(self.tok, ids[:start], ids[start + span:], ids[start:start + span],
                                   self.max_source_length)
        mask = random_spans_noise_mask(len(ids), rng, self.noise_density, self.mean_span_length)
        return span_corruption(ids, mask, self.tok.sentinel_ids, self.tok.eos_id)
