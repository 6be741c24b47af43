"""Text-code matching (stage 2) with hard negatives.

The decoder reads `[ENC] code </s>` while cross-attending to the text's encoder states; the last
`</s>` state goes to `itm_head` (class 1 = match). Each batch of B pairs yields B positives, B
(text, hard negative code) and B (hard negative text, code) pairs. A text's negative code is
drawn with probability softmax(sim / T) over the other codes of the batch, where sim is the
contrastive similarity of the current embeddings (`greedy=True` takes the most similar instead);
candidates identical to the positive are never chosen.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from model.formats import matching_inputs, pad_batch
from training.objectives.base import Batch, Objective
from training.objectives.contrastive import pair_batch


def hard_negatives(sim: torch.Tensor, same: torch.Tensor, rng: np.random.Generator,
                   temperature: float = 0.07, greedy: bool = False) -> list[int]:
    """For each row of `sim` [B, B] pick a column; `same[i, j]` marks forbidden (positive) ones."""
    choices: list[int] = []
    for i in range(sim.size(0)):
        allowed = ~same[i]
        if not bool(allowed.any()):
            choices.append(-1)
            continue
        scores = sim[i].double().masked_fill(~allowed, float("-inf"))
        if greedy:
            choices.append(int(torch.argmax(scores)))
            continue
        probs = torch.softmax(scores / temperature, dim=0).numpy()
        probs = probs / probs.sum()
        choices.append(int(rng.choice(len(probs), p=probs)))
    return choices


def assemble_pairs(b: int, neg_code: list[int], neg_text: list[int]) -> tuple[list[int], list[int], list[int]]:
    """(text index, code index, label) lists: B positives, then (text i, its negative code),
    then (negative text, code j); a -1 negative (none allowed) is left out."""
    text_idx, code_idx, labels = list(range(b)), list(range(b)), [1] * b
    for i, j in enumerate(neg_code):
        if j >= 0:
            text_idx.append(i)
            code_idx.append(j)
            labels.append(0)
    for j, i in enumerate(neg_text):
        if i >= 0:
            text_idx.append(i)
            code_idx.append(j)
            labels.append(0)
    return text_idx, code_idx, labels


class TextCodeMatching(Objective):
    """Binary matching head trained on positives and contrastive hard negatives."""

    name = "matching"
    kind = "pairs"

    def __init__(self, tokenizer: Any, model: Any, temperature: float = 0.07, greedy: bool = False,
                 text_length: int = 128, code_length: int = 256) -> None:
        super().__init__(tokenizer, model)
        if model.itm_head is None or model.proj is None:
            raise ValueError("the matching objective needs embedding and matching heads")
        self.temperature, self.greedy = temperature, greedy
        self.text_length, self.code_length = text_length, code_length

    def build(self, samples: Sequence[Mapping[str, str]], rng: np.random.Generator) -> Batch:
        batch = pair_batch(self.tok, samples, self.text_length, self.code_length)
        texts = [s["docstring"] for s in samples]
        codes = [s["code"] for s in samples]
        dec, dec_mask = pad_batch([matching_inputs(self.tok, t, c, self.text_length, self.code_length)[1]
                                   for t, c in zip(texts, codes)], self.pad_id)
        batch["match_dec_ids"] = torch.tensor(dec, dtype=torch.long)
        batch["match_dec_mask"] = torch.tensor(dec_mask, dtype=torch.long)
        same_code = torch.tensor([[a == b for b in codes] for a in codes])
        same_text = torch.tensor([[a == b for b in texts] for a in texts])
        batch["same_code"], batch["same_text"] = same_code, same_text
        # the sampling needs the model's similarities, so rng draws happen in `loss`; keep a seed
        batch["seed"] = torch.tensor(int(rng.integers(0, 2**31 - 1)))
        return batch

    def loss(self, model: Any, batch: Batch) -> tuple[torch.Tensor, int]:
        text_hidden = model.encode(batch["text_ids"], batch["text_mask"])
        with torch.no_grad():
            text_emb = model.embed_from_hidden(text_hidden).float()
            code_emb = model.embed(batch["code_ids"], batch["code_mask"]).float()
            sim = (text_emb @ code_emb.t()).cpu()
        rng = np.random.default_rng(int(batch["seed"]))
        neg_code = hard_negatives(sim, batch["same_code"].cpu(), rng, self.temperature, self.greedy)
        neg_text = hard_negatives(sim.t(), batch["same_text"].cpu(), rng, self.temperature, self.greedy)
        text_idx, code_idx, labels = assemble_pairs(text_hidden.size(0), neg_code, neg_text)
        device = text_hidden.device
        t_idx = torch.tensor(text_idx, device=device)
        c_idx = torch.tensor(code_idx, device=device)
        logits = model.match_logits(text_hidden[t_idx], batch["text_mask"][t_idx],
                                    batch["match_dec_ids"][c_idx], batch["match_dec_mask"][c_idx])
        loss = F.cross_entropy(logits.float(), torch.tensor(labels, device=device))
        tokens = int(batch["text_mask"][t_idx].sum()) + int(batch["match_dec_mask"][c_idx].sum())
        return loss, tokens
