"""The objective interface and the shared seq2seq pieces (collation, teacher-forced loss).

An `Objective` is an `nn.Module` (so stateful ones - the contrastive momentum encoder, queues and
temperature - live in checkpoints and in DDP like the model) with:
- `kind`: which samples it eats (`"chunks"`: lists of token ids; `"pairs"`: rows with
  `docstring`/`code`; `"instructions"`: rows with `instruction`/`input`/`response`);
- `build(samples, rng) -> dict[str, Tensor]`: deterministic given `rng` (CPU tensors);
- `loss(model, batch) -> (loss, n_tokens)`: a scalar mean loss and the tokens it processed.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from model.formats import IGNORE_INDEX, Example, pad_batch

Batch = dict[str, torch.Tensor]


class Objective(nn.Module):
    """Base class; subclasses set `name`/`kind` and implement `build` and `loss`."""

    name = "objective"
    kind = "chunks"

    def __init__(self, tokenizer: Any, model: Any) -> None:
        super().__init__()
        self.tok = tokenizer
        cfg = model.model_config
        self.pad_id = tokenizer.pad_id
        self.decoder_start_id = cfg.decoder_start_token_id
        self.max_source_length = cfg.max_source_length
        self.max_target_length = cfg.max_target_length

    def build(self, samples: Sequence[Any], rng: np.random.Generator) -> Batch:
        raise NotImplementedError

    def loss(self, model: Any, batch: Batch) -> tuple[torch.Tensor, int]:
        raise NotImplementedError


def collate_examples(examples: Sequence[Example], pad_id: int, decoder_start_id: int) -> Batch:
    """Right-padded tensors for teacher forcing: encoder ids/mask, decoder inputs/mask, labels."""
    enc, enc_mask = pad_batch([e.encoder_ids for e in examples], pad_id)
    pairs = [e.decoder_inputs_and_labels(decoder_start_id) for e in examples]
    dec, dec_mask = pad_batch([p[0] for p in pairs], pad_id)
    labels, _ = pad_batch([p[1] for p in pairs], IGNORE_INDEX)
    return {
        "input_ids": torch.tensor(enc, dtype=torch.long),
        "attention_mask": torch.tensor(enc_mask, dtype=torch.long),
        "decoder_input_ids": torch.tensor(dec, dtype=torch.long),
        "decoder_attention_mask": torch.tensor(dec_mask, dtype=torch.long),
        "labels": torch.tensor(labels, dtype=torch.long),
    }


def seq2seq_loss(model: Any, batch: Batch) -> tuple[torch.Tensor, int]:
    """Token-mean cross-entropy of the labels (prefix positions carry IGNORE_INDEX)."""
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                decoder_input_ids=batch["decoder_input_ids"],
                decoder_attention_mask=batch["decoder_attention_mask"], use_cache=False)
    logits = out.logits.float()
    loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), batch["labels"].reshape(-1),
                           ignore_index=IGNORE_INDEX)
    tokens = int(batch["attention_mask"].sum()) + int(batch["decoder_attention_mask"].sum())
    return loss, tokens


class Seq2SeqObjective(Objective):
    """An objective whose samples become `Example`s scored by teacher-forced cross-entropy."""

    def example(self, sample: Any, rng: np.random.Generator) -> Example:
        raise NotImplementedError

    def build(self, samples: Sequence[Any], rng: np.random.Generator) -> Batch:
        return collate_examples([self.example(s, rng) for s in samples], self.pad_id,
                                self.decoder_start_id)

    def loss(self, model: Any, batch: Batch) -> tuple[torch.Tensor, int]:
        return seq2seq_loss(model, batch)


class PreTokenized:
    """Adapter that lets the text-based task formats take ids already tokenized.

    `encode()` ignores its argument and returns `ids`; every other attribute (special ids)
    comes from the real tokenizer, so the formats in `model.formats` stay the only place a
    prompt is spelled.
    """

    def __init__(self, tokenizer: Any, ids: Sequence[int]) -> None:
        self._tok = tokenizer
        self._ids = list(ids)

    def encode(self, text: str) -> list[int]:
        return list(self._ids)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tok, name)
