"""Tokenizer training on the train split only, and token counts per split for the data card."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from training.data.card import read_card, write_card
from training.data.datasets import iter_jsonl

log = logging.getLogger(__name__)


def _texts(path: Path, max_chars: int, seed: int = 0) -> Iterator[str]:
    rows = [r["text"] for r in iter_jsonl(path) if isinstance(r.get("text"), str)]
    order = np.random.default_rng(seed).permutation(len(rows))
    used = 0
    for i in order:
        if max_chars and used >= max_chars:
            break
        used += len(rows[i])
        yield rows[i]


def train_tokenizer(corpus_dir: Path, vocab_size: int, out_dir: Path, max_chars: int = 50_000_000,
                    min_frequency: int = 2) -> Any:
    """Train the byte-level BPE on `files/train.jsonl` (at most `max_chars` characters)."""
    from model.tokenizer import CodeTokenizer

    train = corpus_dir / "files" / "train.jsonl"
    tok = CodeTokenizer.train(_texts(train, max_chars), vocab_size, min_frequency=min_frequency)
    tok.save(out_dir)
    log.info("tokenizer: %d entries -> %s", tok.vocab_size, out_dir)
    return tok


def count_tokens(corpus_dir: Path, tok: Any) -> dict[str, int]:
    """Tokens of the files in each split (the data card's `tokens`)."""
    counts: dict[str, int] = {}
    for path in sorted((corpus_dir / "files").glob("*.jsonl")):
        texts = [r["text"] for r in iter_jsonl(path) if isinstance(r.get("text"), str)]
        total = 0
        for start in range(0, len(texts), 512):
            total += sum(len(ids) for ids in tok.encode_batch(texts[start:start + 512]))
        counts[path.stem] = total
    pairs = corpus_dir / "pairs" / "train.jsonl"
    if pairs.is_file():
        rows = list(iter_jsonl(pairs))
        counts["train_pairs"] = sum(len(ids) for ids in tok.encode_batch(
            [r.get("docstring", "") + "\n" + r.get("code", "") for r in rows])) if rows else 0
    return counts


def update_card_tokens(corpus_dir: Path, tok: Any) -> dict[str, int]:
    """Count tokens per split and record them in the data card (or `tokens.json` without one)."""
    import json

    counts = count_tokens(corpus_dir, tok)
    (corpus_dir / "tokens.json").write_text(json.dumps(counts, indent=2) + "\n")
    if not (corpus_dir / "data_card.json").is_file():
        log.warning("%s: no data card yet; token counts written to tokens.json", corpus_dir)
        return counts
    card = read_card(corpus_dir)
    card["tokens"] = counts
    card["tokenizer"] = {"vocab_size": tok.vocab_size, "sha256": tok.sha256()}
    write_card(corpus_dir, card)
    return counts
