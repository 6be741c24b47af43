"""Validation of a smol model while it trains, in torch, on held-out (docstring, code) pairs.

- `summary_bleu`: greedy code->text with the server's prompt (`summary_prompt_ids`, the encoder
  reading the code), scored by smoothed BLEU-4 against the first sentence of the docstring, as
  `codet5p-train eval summarize` scores the runtime. Generation, not loss: a cross-attention
  trained too hard drives the frozen decoder to generic sentences while its loss still falls.
- `retrieval_mrr`: text -> code MRR over the rows' own codes (the embedding's quality).
- `rerank_mrr`: the same queries re-ranked by the matching head over the embedding's top k.

Batches are left-padded: with rotary positions only the distance between real tokens matters,
so a padded row decodes as it would alone.
"""
from __future__ import annotations

import contextlib
from typing import Iterator, Mapping, Sequence

import torch

from model.formats import pad_batch
from model.smol.formats import TokenizerPair, first_sentence_of_summary, summary_prompt_ids
from model.runtime.decoding import newline_cut
from model.runtime.repetition import repeated_ngram_bans
from model.runtime.smol_runtime import SUMMARY_NO_REPEAT_NGRAM
from model.smol.modeling import SmolCodeT5p
from training.data.docstrings import first_sentence
from training.eval.bleu import corpus_smoothed_bleu
from training.eval.metrics import mrr

Row = Mapping[str, str]


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """bf16 autocast on a GPU when asked; a no-op otherwise."""
    if precision == "bf16" and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _left_pad(rows: list[list[int]], pad: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        if r:
            ids[i, width - len(r):] = torch.tensor(r, dtype=torch.long)
            mask[i, width - len(r):] = 1
    return ids.to(device), mask.to(device)


def encoder_inputs(tok: TokenizerPair, texts: Sequence[str], length: int,
                   device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded encoder ids and mask of `texts` (`[CLS] text [SEP]`, `length` at most)."""
    ids, mask = pad_batch(tok.enc_batch(list(texts), length), tok.enc_pad_id)
    return torch.tensor(ids, device=device), torch.tensor(mask, device=device)


def generate_summaries(model: SmolCodeT5p, tok: TokenizerPair, codes: Sequence[str], prompt_length: int = 256,
                       code_length: int = 256, max_new_tokens: int = 40, batch_size: int = 64,
                       precision: str = "fp32") -> list[str]:
    """One-sentence summaries of `codes` (greedy, no repeated 3-gram), as the server would show them."""
    ids = summary_token_ids(model, tok, codes, prompt_length, code_length, max_new_tokens, batch_size, precision,
                            no_repeat_ngram=SUMMARY_NO_REPEAT_NGRAM)
    return [first_sentence(first_sentence_of_summary(tok.dec_decode(g))) for g in ids]


@torch.no_grad()
def summary_token_ids(model: SmolCodeT5p, tok: TokenizerPair, codes: Sequence[str], prompt_length: int = 256,
                      code_length: int = 256, max_new_tokens: int = 40, batch_size: int = 64,
                      precision: str = "fp32", stop: bool = True, no_repeat_ngram: int = 0) -> list[list[int]]:
    """Greedy summary token ids per code; a row stops, as the server's does, at an end token, a
    line break after some text, or closing quotes (`stop=False`: every row runs `max_new_tokens`);
    `no_repeat_ngram` > 0 bans a token that would repeat an n-gram of the row's output."""
    was_training = model.training
    model.eval()
    device = model.device
    c = model.model_config
    eos = set(c.eos_ids)
    out: list[list[int]] = []
    try:
        with autocast(device, precision):
            for chunk in _chunks(list(codes), batch_size):
                prompts = [summary_prompt_ids(tok, code, prompt_length) for code in chunk]
                ids, mask = _left_pad(prompts, c.pad_id, device)
                e_ids, e_mask = encoder_inputs(tok, chunk, code_length, device)
                cross = model.cross_keys_values(model.encode(e_ids, e_mask))
                states, past = model.decode(ids, mask, None, cross, e_mask)
                generated: list[list[int]] = [[] for _ in chunk]
                done = [False] * len(chunk)
                for _ in range(max_new_tokens):
                    logits = model.logits(states[:, -1]).float()
                    for i, row in enumerate(generated):
                        if no_repeat_ngram and not done[i]:
                            bans = repeated_ngram_bans(row, no_repeat_ngram)
                            if bans:
                                logits[i, bans] = -float("inf")
                    nxt = logits.argmax(-1)
                    for i, t in enumerate(nxt.tolist()):
                        if done[i]:
                            continue
                        if stop and t in eos:
                            done[i] = True
                            continue
                        generated[i].append(t)
                        text = tok.dec_decode(generated[i]) if stop else ""
                        done[i] = '"""' in text or newline_cut(text) is not None  # the runtime's rules
                    if all(done):
                        break
                    mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
                    states, past = model.decode(nxt[:, None], mask, past, cross, e_mask)
                out.extend(generated)
    finally:
        model.train(was_training)
    return out


def summary_bleu(model: SmolCodeT5p, tok: TokenizerPair, rows: Sequence[Row], prompt_length: int = 256,
                 code_length: int = 256, precision: str = "fp32") -> float:
    """Smoothed BLEU-4 of the greedy summaries of `rows` against their docstrings' first sentences."""
    preds = generate_summaries(model, tok, [r["code"] for r in rows], prompt_length, code_length,
                               precision=precision)
    return corpus_smoothed_bleu([first_sentence(r["docstring"]) for r in rows], preds)


@torch.no_grad()
def _embed_all(model: SmolCodeT5p, tok: TokenizerPair, texts: Sequence[str], length: int,
               precision: str, batch_size: int = 128) -> torch.Tensor:
    device = model.device
    parts = []
    with autocast(device, precision):
        for chunk in _chunks(list(texts), batch_size):
            parts.append(model.embed(*encoder_inputs(tok, chunk, length, device)).float())
    return torch.cat(parts)


def retrieval_mrr(model: SmolCodeT5p, tok: TokenizerPair, rows: Sequence[Row], text_length: int = 64,
                  code_length: int = 256, precision: str = "fp32") -> tuple[float, torch.Tensor]:
    """(MRR of text -> code over the rows' codes, the similarity matrix [queries, codes])."""
    was_training = model.training
    model.eval()
    try:
        text = _embed_all(model, tok, [r["docstring"] for r in rows], text_length, precision)
        code = _embed_all(model, tok, [r["code"] for r in rows], code_length, precision)
    finally:
        model.train(was_training)
    sim = text @ code.t()
    gold = sim.diagonal()[:, None]
    ranks = (sim > gold).sum(1) + 1
    return mrr(ranks.tolist()), sim


@torch.no_grad()
def rerank_mrr(model: SmolCodeT5p, tok: TokenizerPair, rows: Sequence[Row], sim: torch.Tensor, k: int = 10,
               queries: int = 100, text_length: int = 64, match_code_length: int = 64,
               precision: str = "fp32") -> tuple[float, float]:
    """(MRR of the embedding, MRR after re-ranking its top `k` by P(match)) on the first `queries`
    rows; a gold code outside the top k keeps its embedding rank in both."""
    was_training = model.training
    model.eval()
    device = model.device
    c = model.model_config
    eos = c.eos_ids[0]
    base, reranked = [], []
    try:
        with autocast(device, precision):
            for q in range(min(queries, len(rows))):
                order = sim[q].argsort(descending=True).tolist()
                rank = order.index(q) + 1
                base.append(rank)
                if rank > k:
                    reranked.append(rank)
                    continue
                top = order[:k]
                codes = [tok.dec_encode(rows[j]["code"][:16 * match_code_length])[:match_code_length - 1] + [eos]
                         for j in top]
                d_ids, d_mask = pad_batch(codes, c.pad_id)
                e_ids, e_mask = encoder_inputs(tok, [rows[q]["docstring"]] * len(top), text_length, device)
                logits = model.match_logits(e_ids, e_mask, torch.tensor(d_ids, device=device),
                                            torch.tensor(d_mask, device=device)).float()
                p = logits.softmax(-1)[:, 1]
                new_order = [top[i] for i in p.argsort(descending=True).tolist()]
                reranked.append(new_order.index(q) + 1)
    finally:
        model.train(was_training)
    return mrr(base), mrr(reranked)


def validate(model: SmolCodeT5p, tok: TokenizerPair, rows: Sequence[Row], lengths: Mapping[str, int],
             precision: str = "fp32", rerank_queries: int = 100) -> dict[str, float]:
    """BLEU-4 of the summaries, embedding MRR and re-rank MRR (the latter on `rerank_queries`)."""
    bleu = summary_bleu(model, tok, rows, lengths["prompt"], lengths["code"], precision)
    emb_mrr, sim = retrieval_mrr(model, tok, rows, lengths["text"], lengths["code"], precision)
    out = {"valid_bleu4": bleu, "valid_mrr": emb_mrr}
    if rerank_queries > 0:
        base, rer = rerank_mrr(model, tok, rows, sim, queries=rerank_queries, text_length=lengths["text"],
                               match_code_length=lengths["match_code"], precision=precision)
        out.update(valid_mrr_top=base, valid_rerank_mrr=rer)
    return out
