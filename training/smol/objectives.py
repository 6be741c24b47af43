"""Stage-2 objectives of the smol kind on (docstring, code) pairs, all from `model.smol.formats`.

- contrastive: symmetric InfoNCE between the encoder's text and code embeddings, in-batch
  negatives, learned temperature (`ObjectiveState.logit_scale`);
- matching: the decoder reads the code while cross-attending to the text; positives plus one
  hard negative code per text and one hard negative text per code, drawn by the contrastive
  similarity (`training.objectives.matching.hard_negatives`);
- code->text: the decoder reads the code and the summary cue, cross-attends to the encoded code,
  and learns the docstring sentence (loss on the sentence and its closing quotes only);
- text->code: the encoder reads the description, the decoder `# description` then the code.
Generation losses compute the 49k-way output layer only at scored positions.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from model.formats import IGNORE_INDEX, pad_batch
from model.smol.formats import SUMMARY_END, TokenizerPair, summary_prompt_ids, text_to_code_prompt
from model.smol.modeling import SmolCodeT5p
from training.objectives.contrastive import info_nce
from training.objectives.matching import assemble_pairs, hard_negatives

Row = Mapping[str, str]
NAMES = ("contrastive", "matching", "code_to_text", "text_to_code")


class ObjectiveState(nn.Module):
    """Learned state of the objectives (the contrastive temperature), checkpointed with them."""

    def __init__(self, temperature: float = 0.05) -> None:
        super().__init__()
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / temperature)))

    def scale(self) -> torch.Tensor:
        return self.logit_scale.clamp(max=math.log(100.0)).exp()


def _tensor(rows: list[list[int]], pad: int, device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    ids, mask = pad_batch(rows, pad)
    return (torch.tensor(ids, dtype=torch.long, device=device),
            torch.tensor(mask, dtype=torch.long, device=device))


def contrastive(model: SmolCodeT5p, tok: TokenizerPair, state: ObjectiveState, rows: Sequence[Row],
                text_len: int, code_len: int) -> tuple[torch.Tensor, int, torch.Tensor]:
    """(loss, tokens, text x code similarity, detached) of one batch."""
    dev = model.device
    t_ids, t_mask = _tensor(tok.enc_batch([r["docstring"] for r in rows], text_len), tok.enc_pad_id, dev)
    c_ids, c_mask = _tensor(tok.enc_batch([r["code"] for r in rows], code_len), tok.enc_pad_id, dev)
    text = model.embed(t_ids, t_mask)
    code = model.embed(c_ids, c_mask)
    loss = info_nce(text, code, text, code, 1.0 / state.scale())
    return loss, int(t_mask.sum() + c_mask.sum()), (text @ code.t()).detach()


def matching(model: SmolCodeT5p, tok: TokenizerPair, rows: Sequence[Row], sim: torch.Tensor,
             rng: np.random.Generator, text_len: int, code_len: int) -> tuple[torch.Tensor, int]:
    """Binary matching loss over positives and similarity-drawn hard negatives."""
    codes = [r["code"] for r in rows]
    same = torch.tensor([[a == b for b in codes] for a in codes])
    sim = sim.float().cpu()  # drawn with numpy on the host
    neg_code = hard_negatives(sim, same, rng)
    neg_text = hard_negatives(sim.t(), same.t(), rng)
    t_idx, c_idx, labels = assemble_pairs(len(rows), neg_code, neg_text)
    texts = tok.enc_batch([rows[i]["docstring"] for i in t_idx], text_len)
    eos = model.model_config.eos_ids[0]
    dec = [tok.dec_encode(rows[j]["code"][:16 * code_len])[:code_len - 1] + [eos] for j in c_idx]
    dev = model.device
    e_ids, e_mask = _tensor(texts, tok.enc_pad_id, dev)
    d_ids, d_mask = _tensor(dec, model.model_config.pad_id, dev)
    logits = model.match_logits(e_ids, e_mask, d_ids, d_mask)
    loss = F.cross_entropy(logits.float(), torch.tensor(labels, dtype=torch.long, device=dev))
    return loss, int(e_mask.sum() + d_mask.sum())


def generation_rows(tok: TokenizerPair, prompt_ids: list[list[int]], target_ids: list[list[int]],
                    pad: int, device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Teacher forcing: inputs = prompt + target[:-1], labels = -100 on the prompt, then target."""
    inputs, labels = [], []
    for p, t in zip(prompt_ids, target_ids):
        full = p + t
        inputs.append(full[:-1])
        labels.append([IGNORE_INDEX] * (len(p) - 1) + t)
    ids, mask = _tensor(inputs, pad, device)
    lab, _ = pad_batch(labels, IGNORE_INDEX)
    return ids, mask, torch.tensor(lab, dtype=torch.long, device=device)


def generation_loss(model: SmolCodeT5p, enc_rows: list[list[int]], enc_pad: int, ids: torch.Tensor,
                    mask: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Token-mean cross-entropy of the labels, decoding with cross-attention to `enc_rows`."""
    e_ids, e_mask = _tensor(enc_rows, enc_pad, ids.device)
    cross = model.cross_keys_values(model.encode(e_ids, e_mask))
    states, _ = model.decode(ids, mask, None, cross, e_mask)
    scored = labels != IGNORE_INDEX
    logits = model.logits(states[scored]).float()
    loss = F.cross_entropy(logits, labels[scored])
    return loss, int(e_mask.sum() + mask.sum())


def code_to_text(model: SmolCodeT5p, tok: TokenizerPair, rows: Sequence[Row], code_len: int,
                 prompt_len: int, target_len: int) -> tuple[torch.Tensor, int]:
    c = model.model_config
    prompts = [summary_prompt_ids(tok, r["code"], prompt_len) for r in rows]
    targets = [tok.dec_encode(" ".join(r["docstring"].split()) + SUMMARY_END)[:target_len] for r in rows]
    ids, mask, labels = generation_rows(tok, prompts, targets, c.pad_id, model.device)
    return generation_loss(model, tok.enc_batch([r["code"] for r in rows], code_len), tok.enc_pad_id,
                           ids, mask, labels)


def text_to_code(model: SmolCodeT5p, tok: TokenizerPair, rows: Sequence[Row], text_len: int,
                 target_len: int) -> tuple[torch.Tensor, int]:
    c = model.model_config
    prompts = [tok.dec_encode(text_to_code_prompt(r["docstring"][:16 * text_len]))[:text_len] for r in rows]
    targets = [tok.dec_encode(r["code"][:16 * target_len])[:target_len - 1] + [c.eos_ids[0]] for r in rows]
    ids, mask, labels = generation_rows(tok, prompts, targets, c.pad_id, model.device)
    return generation_loss(model, tok.enc_batch([r["docstring"] for r in rows], text_len),
                           tok.enc_pad_id, ids, mask, labels)


def stage_losses(model: SmolCodeT5p, tok: TokenizerPair, state: ObjectiveState, rows: Sequence[Row],
                 weights: Mapping[str, float], rng: np.random.Generator, lengths: Mapping[str, int],
                 gen_rows: int, side_rows: int | None = None) -> tuple[torch.Tensor, int, dict[str, float]]:
    """Weighted sum of the objectives with a weight > 0 on one batch of pairs: code->text uses the
    first `gen_rows` pairs, matching and text->code the first `side_rows` (default `gen_rows`).
    Returns (loss, tokens, per-objective losses)."""
    side = gen_rows if side_rows is None else side_rows
    total = torch.zeros((), device=model.device)
    tokens = 0
    parts: dict[str, float] = {}
    text_len, code_len = lengths["text"], lengths["code"]
    sim = None
    if weights.get("contrastive", 0) > 0 or weights.get("matching", 0) > 0:
        loss, n, sim = contrastive(model, tok, state, rows, text_len, code_len)
        if weights.get("contrastive", 0) > 0:
            total = total + weights["contrastive"] * loss
            tokens += n
            parts["contrastive"] = float(loss.detach())
    if weights.get("matching", 0) > 0:
        assert sim is not None
        loss, n = matching(model, tok, rows[:side], sim[:side, :side], rng, text_len, lengths.get("match_code", code_len))
        total, tokens, parts["matching"] = total + weights["matching"] * loss, tokens + n, float(loss.detach())
    if weights.get("code_to_text", 0) > 0:
        loss, n = code_to_text(model, tok, rows[:gen_rows], code_len, lengths["prompt"], lengths["summary"])
        total, tokens, parts["code_to_text"] = total + weights["code_to_text"] * loss, tokens + n, float(loss.detach())
    if weights.get("text_to_code", 0) > 0:
        loss, n = text_to_code(model, tok, rows[:side], text_len, lengths["code_target"])
        total, tokens, parts["text_to_code"] = total + weights["text_to_code"] * loss, tokens + n, float(loss.detach())
    return total, tokens, parts
