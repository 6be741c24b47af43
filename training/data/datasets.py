"""Training datasets: stage-1 token chunks, and JSONL rows for pairs / instructions.

`TokenChunks` tokenizes the corpus files of one split once and caches the ids as
`tokens` (int32) + `offsets` (int64) in a safetensors file, then serves chunks of at most
`chunk_length` tokens (each file is cut into consecutive chunks; the short tail is dropped when
under `min_length`). Malformed JSONL lines are counted and skipped, never fatal.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from safetensors.torch import load_file, save_file

log = logging.getLogger(__name__)


class DataError(ValueError):
    """A data file is missing or holds no usable rows."""


def iter_jsonl(path: Path, stats: dict[str, int] | None = None) -> Iterator[dict[str, Any]]:
    """Rows of a JSONL file; lines that are not JSON objects are counted in `stats['bad_lines']`."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: data file not found")
    with path.open("r", encoding="utf-8", errors="replace") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                row = None
            if not isinstance(row, dict):
                if stats is not None:
                    stats["bad_lines"] = stats.get("bad_lines", 0) + 1
                continue
            yield row


def load_rows(path: Path, required: tuple[str, ...]) -> list[dict[str, Any]]:
    """All rows of `path` that have string values for `required` keys (others counted, skipped)."""
    stats: dict[str, int] = {}
    rows = []
    for row in iter_jsonl(path, stats):
        if all(isinstance(row.get(k), str) for k in required):
            rows.append(row)
        else:
            stats["bad_rows"] = stats.get("bad_rows", 0) + 1
    if stats:
        log.warning("%s: skipped %s", path, stats)
    if not rows:
        raise DataError(f"{path}: no usable rows (need keys {', '.join(required)})")
    return rows


def chunk_ids(ids: list[int], chunk_length: int, min_length: int) -> list[list[int]]:
    """Consecutive chunks of `chunk_length`; a tail shorter than `min_length` is dropped."""
    out = [ids[i:i + chunk_length] for i in range(0, len(ids), chunk_length)]
    return [c for c in out if len(c) >= min_length]


class TokenChunks:
    """Stage-1 chunks of token ids backed by two flat tensors."""

    def __init__(self, tokens: torch.Tensor, offsets: torch.Tensor) -> None:
        self.tokens = tokens
        self.offsets = offsets

    def __len__(self) -> int:
        return int(self.offsets.numel()) - 1

    def __getitem__(self, i: int) -> list[int]:
        a, b = int(self.offsets[i]), int(self.offsets[i + 1])
        return self.tokens[a:b].tolist()

    @property
    def num_tokens(self) -> int:
        return int(self.tokens.numel())

    @classmethod
    def build(cls, files_jsonl: Path, tokenizer: Any, chunk_length: int, min_length: int,
              cache: Path | None = None) -> "TokenChunks":
        """Tokenize the `text` of every row (cached in `cache` when given)."""
        if cache is not None and cache.is_file():
            try:
                data = load_file(str(cache))
                return cls(data["tokens"], data["offsets"])
            except Exception as exc:  # corrupt cache: rebuild it
                log.warning("%s: unreadable chunk cache, rebuilding (%s)", cache, exc)
        texts = [row["text"] for row in load_rows(files_jsonl, ("text",))]
        flat: list[np.ndarray] = []
        lengths: list[int] = []
        for start in range(0, len(texts), 256):
            for ids in tokenizer.encode_batch(texts[start:start + 256]):
                for chunk in chunk_ids(ids, chunk_length, min_length):
                    flat.append(np.asarray(chunk, dtype=np.int32))
                    lengths.append(len(chunk))
        if not lengths:
            raise DataError(f"{files_jsonl}: no chunk of at least {min_length} tokens")
        tokens = torch.from_numpy(np.concatenate(flat))
        offsets = torch.from_numpy(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))
        if cache is not None:  # written whole, then renamed: a concurrent reader never sees half
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_name(f".{cache.name}.{os.getpid()}.tmp")
            save_file({"tokens": tokens, "offsets": offsets}, str(tmp))
            os.replace(tmp, cache)
        return cls(tokens, offsets)
