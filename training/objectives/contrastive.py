"""Text-code contrastive learning (stage 2), MoCo/BLIP style.

Text and code are embedded by the encoder's `[CLS]` (`<s>`) state -> `proj` -> L2 norm. A
momentum copy of the encoder and projection (EMA of the online weights) embeds the keys; FIFO
queues keep the keys of earlier batches as extra negatives. The loss is the symmetric InfoNCE

    L = ( CE(t @ [c_m; Q_code]^T / T, i) + CE(c @ [t_m; Q_text]^T / T, i) ) / 2

with a learned temperature T (clamped to [0.001, 0.5]). With `online_keys` (the default) the
current batch's keys are the online embeddings themselves (c and t, gradients flowing both
ways) and only the queues hold momentum keys: search compares online text with online code, and
a short run (hundreds of steps, where a 0.995 momentum encoder has barely moved from its
starting weights) otherwise learns to match the *momentum* embeddings instead, leaving
online-to-online similarity at chance. Under DDP the keys are all-gathered
before they enter the queues, so every rank holds the same queues.

The queue is off by default (`queue_size=0`: in-batch negatives only). It belongs with momentum
batch keys (the paper's form): next to online batch keys, the queue's momentum keys differ
from every fresh key in a way the model can learn, and the loss then drops to ln(batch) by
rejecting the whole queue while the in-batch ranking stays at chance (measured on the default
model's stage 1, `bench/contrastive_keys_ab.py` against `bench/contrastive_curve.py`). Without a
queue and with online keys no momentum key is used, and the momentum copy is not built at all.
"""
from __future__ import annotations

import copy
from typing import Any, Mapping, Sequence

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from model.formats import embedding_input, pad_batch
from training.objectives.base import Batch, Objective


def info_nce(text: torch.Tensor, code: torch.Tensor, text_keys: torch.Tensor,
             code_keys: torch.Tensor, temperature: torch.Tensor | float) -> torch.Tensor:
    """Symmetric InfoNCE; row i of `text`/`code` is positive with row i of the keys."""
    targets = torch.arange(text.size(0), device=text.device)
    t2c = text @ code_keys.t() / temperature
    c2t = code @ text_keys.t() / temperature
    return (F.cross_entropy(t2c, targets) + F.cross_entropy(c2t, targets)) / 2


def encode_texts(tok: Any, texts: Sequence[str], max_length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`<s> text </s>` ids and mask for the embedding head (`model.formats.embedding_input`)."""
    ids, mask = pad_batch([embedding_input(tok, t, max_length) for t in texts], tok.pad_id)
    return torch.tensor(ids, dtype=torch.long), torch.tensor(mask, dtype=torch.long)


def pair_batch(tok: Any, samples: Sequence[Mapping[str, str]], text_len: int, code_len: int) -> Batch:
    t_ids, t_mask = encode_texts(tok, [s["docstring"] for s in samples], text_len)
    c_ids, c_mask = encode_texts(tok, [s["code"] for s in samples], code_len)
    return {"text_ids": t_ids, "text_mask": t_mask, "code_ids": c_ids, "code_mask": c_mask}


def _gather(x: torch.Tensor) -> torch.Tensor:
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    parts = [torch.zeros_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts)


class TextCodeContrastive(Objective):
    """Contrastive text-code loss with momentum encoder, queues and learned temperature."""

    name = "contrastive"
    kind = "pairs"

    def __init__(self, tokenizer: Any, model: Any, queue_size: int = 0, momentum: float = 0.995,
                 temperature: float = 0.07, text_length: int = 128, code_length: int = 256,
                 online_keys: bool = True) -> None:
        super().__init__(tokenizer, model)
        self.online_keys = online_keys
        if model.proj is None:
            raise ValueError("the contrastive objective needs a model with an embedding head")
        self.momentum = momentum
        self.text_length, self.code_length = text_length, code_length
        self.temp = nn.Parameter(torch.tensor(float(temperature)))
        # the momentum encoder exists only where a momentum key is used (batch keys or a queue):
        # with online keys and no queue it would be copied, moved and checkpointed for nothing
        self.uses_momentum = queue_size > 0 or not online_keys
        if self.uses_momentum:
            self.m_encoder = copy.deepcopy(model.encoder)
            self.m_proj = copy.deepcopy(model.proj)
            for p in list(self.m_encoder.parameters()) + list(self.m_proj.parameters()):
                p.requires_grad_(False)
        dim = model.model_config.embed_dim
        self.register_buffer("text_queue", torch.zeros(queue_size, dim))
        self.register_buffer("code_queue", torch.zeros(queue_size, dim))
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))
        self.register_buffer("queue_len", torch.zeros((), dtype=torch.long))

    def build(self, samples: Sequence[Mapping[str, str]], rng: np.random.Generator) -> Batch:
        return pair_batch(self.tok, samples, self.text_length, self.code_length)

    @torch.no_grad()
    def _momentum_update(self, model: Any) -> None:
        online = list(model.encoder.parameters()) + list(model.proj.parameters())
        target = list(self.m_encoder.parameters()) + list(self.m_proj.parameters())
        torch._foreach_mul_(target, self.momentum)
        torch._foreach_add_(target, [o.detach() for o in online], alpha=1 - self.momentum)

    @torch.no_grad()
    def _momentum_embed(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        hidden = self.m_encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        return F.normalize(self.m_proj(hidden[:, 0, :]).float(), dim=-1)

    @torch.no_grad()
    def _enqueue(self, text_keys: torch.Tensor, code_keys: torch.Tensor) -> None:
        text_keys, code_keys = _gather(text_keys), _gather(code_keys)
        size = self.text_queue.size(0)
        if size == 0:
            return
        n = min(text_keys.size(0), size)
        idx = (int(self.queue_ptr) + torch.arange(n, device=self.text_queue.device)) % size
        self.text_queue[idx] = text_keys[-n:].to(self.text_queue.dtype)
        self.code_queue[idx] = code_keys[-n:].to(self.code_queue.dtype)
        self.queue_ptr.fill_((int(self.queue_ptr) + n) % size)
        self.queue_len.fill_(min(int(self.queue_len) + n, size))

    def loss(self, model: Any, batch: Batch) -> tuple[torch.Tensor, int]:
        with torch.no_grad():
            self.temp.clamp_(0.001, 0.5)
        text = model.embed(batch["text_ids"], batch["text_mask"]).float()
        code = model.embed(batch["code_ids"], batch["code_mask"]).float()
        if not self.uses_momentum:
            loss = info_nce(text, code, text, code, self.temp)
        else:
            self._momentum_update(model)
            text_m = self._momentum_embed(batch["text_ids"], batch["text_mask"])
            code_m = self._momentum_embed(batch["code_ids"], batch["code_mask"])
            n = int(self.queue_len)
            text_keys = torch.cat([text if self.online_keys else text_m, self.text_queue[:n].clone()])
            code_keys = torch.cat([code if self.online_keys else code_m, self.code_queue[:n].clone()])
            loss = info_nce(text, code, text_keys, code_keys, self.temp)
            if self.training:
                self._enqueue(text_m, code_m)
        tokens = int(batch["text_mask"].sum()) + int(batch["code_mask"].sum())
        return loss, tokens
