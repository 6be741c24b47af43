"""Prompt-lookup drafting: guess the next tokens by finding the last n-gram earlier in the text.

Code repeats itself: an identifier, an argument list, the line above with one name changed. When
the last `n` tokens (prompt + generated so far) occurred before, the tokens that followed them
then are a cheap guess at what follows now. The decoder checks a guess of `k` tokens in one
call (`k + 1` positions, about the cost of one step on two cores), and greedy decoding keeps the
longest run of guessed tokens that it would have chosen itself, so the output is the same as
without drafting (exactly so in fp32; dynamic int8 quantises a call's activations together).

`prompt_lookup(seq)` returns the guess (possibly empty); `DraftStats` counts what was proposed
and accepted, for `codet5p/status`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

MAX_NGRAM = 3
MIN_NGRAM = 2
DRAFT_TOKENS = 6
SEARCH_WINDOW = 4096  # tokens searched backwards for the n-gram


def prompt_lookup(seq: Sequence[int], max_ngram: int = MAX_NGRAM, min_ngram: int = MIN_NGRAM,
                  draft_tokens: int = DRAFT_TOKENS, window: int = SEARCH_WINDOW) -> list[int]:
    """Up to `draft_tokens` ids that followed the most recent earlier occurrence of the last
    `n` ids of `seq` (longest `n` first, from `max_ngram` down to `min_ngram`); [] if none."""
    if draft_tokens <= 0 or len(seq) <= min_ngram:
        return []
    arr = np.asarray(seq[-window:], dtype=np.int64)
    size = len(arr)
    for n in range(min(max_ngram, size - 1), min_ngram - 1, -1):
        tail = arr[size - n:]
        # start positions s < size - n with arr[s:s + n] == tail, followed by at least one token
        starts = np.nonzero(arr[:size - n] == tail[0])[0]
        for j in range(1, n):
            if not starts.size:
                break
            starts = starts[arr[starts + j] == tail[j]]
        starts = starts[starts + n < size]
        if starts.size:
            s = int(starts[-1]) + n  # the most recent occurrence
            return arr[s:s + draft_tokens].tolist()
    return []


@dataclass
class DraftStats:
    """Counts over a runtime's life: verification calls, tokens proposed and accepted."""

    calls: int = 0
    proposed: int = 0
    accepted: int = 0

    def as_dict(self) -> dict[str, float]:
        rate = self.accepted / self.proposed if self.proposed else 0.0
        return {"calls": self.calls, "proposed": self.proposed, "accepted": self.accepted,
                "acceptRate": round(rate, 3)}
