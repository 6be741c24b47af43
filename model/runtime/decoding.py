"""KV-cached greedy and beam-search decoding over the exported decoder graphs (numpy only).

`DecoderGraphs` wraps the two ONNX decoder sessions: `decoder` consumes the whole forced prefix
once (`[start] + prefix`) and returns the self- and cross-attention caches; `decoder_with_past`
then consumes one token per step. `greedy` and `beam_search` drive them and apply the stop rules
of `StopRules` (end tokens, newline, stop strings, max tokens, deadline).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from model.runtime.api import GenerationConfig, StopReason


class DecoderGraphs:
    """The decoder / decoder-with-past ONNX sessions and their cache plumbing."""

    def __init__(self, decoder: Any, decoder_with_past: Any) -> None:
        self.decoder = decoder
        self.with_past = decoder_with_past
        self.dec_out = [o.name for o in decoder.get_outputs()]
        self.past_in = [i.name for i in decoder_with_past.get_inputs() if i.name.startswith("past_key_values.")]
        self.past_out = [o.name for o in decoder_with_past.get_outputs()]
        # Which decoder outputs feed which with-past inputs (present.i.x.y -> past_key_values.i.x.y).
        self._first_map = [self.dec_out.index(n.replace("past_key_values.", "present.")) for n in self.past_in]
        self._self_slots = [k for k, n in enumerate(self.past_in) if ".decoder." in n]
        self._step_map = [self.past_out.index(self.past_in[k].replace("past_key_values.", "present."))
                          for k in self._self_slots]
        self._in_names = {i.name for i in decoder.get_inputs()}

    def first(self, enc_hidden: np.ndarray, enc_mask: np.ndarray,
              ids: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """Run the full prefix `ids` [b, t]; returns last-position logits [b, V] and the cache."""
        feeds = {"input_ids": ids, "encoder_hidden_states": enc_hidden, "encoder_attention_mask": enc_mask}
        outs = self.decoder.run(None, {k: v for k, v in feeds.items() if k in self._in_names})
        return outs[0][:, -1, :], [outs[j] for j in self._first_map]

    def step(self, ids: np.ndarray, enc_mask: np.ndarray,
             past: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        """One token per row `ids` [b, 1]; returns logits [b, V] and the updated cache."""
        feeds = dict(zip(self.past_in, past))
        feeds["input_ids"] = ids
        feeds["encoder_attention_mask"] = enc_mask
        outs = self.with_past.run(None, feeds)
        new = list(past)
        for slot, j in zip(self._self_slots, self._step_map):
            new[slot] = outs[j]
        return outs[0][:, -1, :], new

    def reorder(self, past: list[np.ndarray], rows: np.ndarray) -> list[np.ndarray]:
        """Select cache rows (beam reordering); cross-attention caches are identical per beam."""
        new = list(past)
        for slot in self._self_slots:
            new[slot] = np.take(past[slot], rows, axis=0)
        return new


@dataclass
class StopRules:
    """When to stop: `end_ids` end the sequence (reason `end_reason`), plus the config's rules."""

    config: GenerationConfig
    end_ids: frozenset[int]
    end_reason: StopReason
    newline_mask: np.ndarray  # bool [V]: token decodes to text containing "\n"
    decode: Callable[[Sequence[int]], str]
    banned_ids: np.ndarray | None = None  # int64 ids never generated (padding, rows past the tokenizer)

    def text_stop(self, ids: list[int], last: int) -> tuple[StopReason | None, str | None]:
        """Check newline / stop-string rules after `last` was appended; returns (reason, cut text)."""
        cfg = self.config
        check_nl = cfg.stop_at_newline and last < len(self.newline_mask) and self.newline_mask[last]
        if not check_nl and not cfg.stop_strings:
            return None, None
        text = self.decode(ids)
        if check_nl:
            cut = newline_cut(text)
            if cut is not None:
                return "newline", cut
        for s in cfg.stop_strings:
            pos = text.find(s) if s else -1
            if pos >= 0:
                return "stop_string", text[:pos]
        return None, None


def newline_cut(text: str) -> str | None:
    """Text up to the first newline that follows non-whitespace content (None if no such newline)."""
    seen = False
    for i, ch in enumerate(text):
        if ch == "\n" and seen:
            return text[:i]
        if not ch.isspace():
            seen = True
    return None


def apply_text_rules(text: str, config: GenerationConfig) -> tuple[str, StopReason | None]:
    """Post-hoc cut for beam search results: newline and stop strings."""
    reason: StopReason | None = None
    if config.stop_at_newline:
        cut = newline_cut(text)
        if cut is not None:
            text, reason = cut, "newline"
    for s in config.stop_strings:
        pos = text.find(s) if s else -1
        if pos >= 0:
            text, reason = text[:pos], "stop_string"
    return text, reason


def _past_deadline(config: GenerationConfig) -> bool:
    return config.deadline is not None and time.monotonic() >= config.deadline


def _mask_banned(logits: np.ndarray, banned: np.ndarray | None) -> np.ndarray:
    if banned is not None and banned.size:
        logits[..., banned] = -np.inf
    return logits


def greedy(graphs: DecoderGraphs, enc_hidden: np.ndarray, enc_mask: np.ndarray, start_ids: list[int],
           rules: StopRules) -> tuple[list[int], StopReason, str | None]:
    """Greedy decoding of one sequence; returns (generated ids, stop reason, cut text or None)."""
    cfg = rules.config
    ids: list[int] = []
    if cfg.max_new_tokens <= 0:
        return ids, "max_tokens", None
    if _past_deadline(cfg):
        return ids, "deadline", None
    logits, past = graphs.first(enc_hidden, enc_mask, np.asarray([start_ids], dtype=np.int64))
    step_ids = np.zeros((1, 1), dtype=np.int64)
    while True:
        tok = int(np.argmax(_mask_banned(logits[0], rules.banned_ids)))
        if tok in rules.end_ids:
            return ids, rules.end_reason, None
        ids.append(tok)
        reason, cut = rules.text_stop(ids, tok)
        if reason is not None:
            return ids, reason, cut
        if len(ids) >= cfg.max_new_tokens:
            return ids, "max_tokens", None
        if _past_deadline(cfg):
            return ids, "deadline", None
        step_ids[0, 0] = tok
        logits, past = graphs.step(step_ids, enc_mask, past)


def _log_softmax(x: np.ndarray) -> np.ndarray:
    m = np.max(x, axis=-1, keepdims=True)
    y = x - m
    return y - np.log(np.sum(np.exp(y), axis=-1, keepdims=True))


def beam_search(graphs: DecoderGraphs, enc_hidden: np.ndarray, enc_mask: np.ndarray, start_ids: list[int],
                rules: StopRules) -> tuple[list[int], StopReason]:
    """Beam search of one sequence (beams are the batch); returns (best ids, stop reason)."""
    cfg = rules.config
    k = max(1, cfg.num_beams)
    if cfg.max_new_tokens <= 0:
        return [], "max_tokens"
    if _past_deadline(cfg):
        return [], "deadline"
    logits, past = graphs.first(enc_hidden, enc_mask, np.asarray([start_ids], dtype=np.int64))
    beams: list[list[int]] = [[]]
    scores = np.zeros(1, dtype=np.float64)
    finished: list[tuple[float, list[int], StopReason]] = []
    enc_mask_k = enc_mask
    reason: StopReason = "max_tokens"

    def norm(score: float, length: int) -> float:
        return score / (max(length, 1) ** cfg.length_penalty)

    for step in range(cfg.max_new_tokens):
        logp = _log_softmax(_mask_banned(logits.astype(np.float64), rules.banned_ids))
        total = (scores[:, None] + logp).ravel()
        n_cand = min(2 * k, total.size)
        cand = np.argpartition(-total, n_cand - 1)[:n_cand]
        cand = cand[np.argsort(-total[cand])]
        vocab = logp.shape[1]
        rows: list[int] = []
        new_beams: list[list[int]] = []
        new_scores: list[float] = []
        for c in cand:
            row, tok = divmod(int(c), vocab)
            if tok in rules.end_ids:
                finished.append((norm(float(total[c]), len(beams[row]) + 1), beams[row], rules.end_reason))
                continue
            rows.append(row)
            new_beams.append(beams[row] + [tok])
            new_scores.append(float(total[c]))
            if len(new_beams) == k:
                break
        if len(finished) >= k or not new_beams:
            reason = rules.end_reason
            beams = []
            break
        beams, scores = new_beams, np.asarray(new_scores)
        if step == cfg.max_new_tokens - 1:
            break
        if _past_deadline(cfg):
            reason = "deadline"
            break
        row_idx = np.asarray(rows, dtype=np.int64)
        if enc_mask_k.shape[0] != len(rows):
            enc_mask_k = np.repeat(enc_mask[:1], len(rows), axis=0)
            past = [np.repeat(p[:1], len(rows), axis=0) if ".encoder." in name else p
                    for p, name in zip(past, graphs.past_in)]
        past = graphs.reorder(past, row_idx)
        step_ids = np.asarray([[b[-1]] for b in beams], dtype=np.int64)
        logits, past = graphs.step(step_ids, enc_mask_k, past)
    alive_reason: StopReason = reason if reason == "deadline" else "max_tokens"
    for s, b in zip(scores if beams else [], beams):
        finished.append((norm(float(s), len(b)), b, alive_reason))
    if not finished:
        return [], reason
    best = max(finished, key=lambda f: f[0])
    return best[1], best[2]
