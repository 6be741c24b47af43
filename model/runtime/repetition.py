"""Repetition control for greedy decoding: ban a token that would repeat an n-gram of the output.

A small decoder reading an unfamiliar function can fall into a loop ("the given position to the
given position ..."); banning a repeated n-gram of the generated tokens (not of the prompt, whose
code legitimately recurs) stops it without changing any output that has no such repeat.
"""
from __future__ import annotations

from collections.abc import Sequence


def repeated_ngram_bans(ids: Sequence[int], n: int) -> list[int]:
    """Tokens that, appended to `ids`, would complete an `n`-gram already in `ids` (n >= 1)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, not {n}")
    if len(ids) < n:  # no n-gram in `ids` yet
        return []
    if n == 1:
        return sorted(set(ids))
    tail = list(ids[len(ids) - n + 1:])
    bans = {ids[i + n - 1] for i in range(len(ids) - n + 1) if list(ids[i:i + n - 1]) == tail}
    return sorted(bans)
