"""Prompt-lookup drafting: guess the next tokens by finding the last n-gram earlier in the text.

Code repeats itself: an identifier, an argument list, the line above with one name changed. When
the last `n` tokens (prompt + generated so far) occurred before, the tokens that followed them
then are a cheap guess at what follows now. The decoder checks a guess of `k` tokens in one
call (`k + 1` positions, about the cost of one step on two cores), and greedy decoding keeps the
longest run of guessed tokens that it would have chosen itself, so the output is the same as
without drafting (exactly so in fp32; dynamic int8 quantises a call's activations together).

While typing, the best place to look is often not the prompt but what the previous request in
the same document saw after the point where the prompts part: its old tail and the suggestion
generated then (`recent`). The user typed a few characters that left the shown suggestion, and
the new suggestion usually rejoins the old one a few tokens later (`len(a` -> `rgs) == 2 and ...`
after `en(self.__args__) == 2 and ...`). An n-gram found there wins over one of the same length
found in the prompt.

`lookup_draft(seq, recent=...)` returns the guess (possibly empty) and whether it came from
`recent` (an array there is used as it is: the runtime converts the tail once per request).
`DraftStats` counts what was proposed and accepted, for `codet5p/status`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

MAX_NGRAM = 3
MIN_NGRAM = 2
DRAFT_TOKENS = 6
SEARCH_WINDOW = 4096  # tokens searched backwards for the n-gram
RECENT_TOKENS = 512  # tokens of the previous request's stale tail kept as a draft source


def _follower(arr: np.ndarray, tail: np.ndarray, draft_tokens: int, first: bool = False) -> list[int]:
    """Up to `draft_tokens` ids after the last (or `first`) occurrence of `tail` in `arr` that
    leaves at least one id after it (so never `arr`'s own end); [] if none."""
    n = len(tail)
    starts = np.nonzero(arr[:len(arr) - n] == tail[0])[0]
    for j in range(1, n):
        if not starts.size:
            return []
        starts = starts[arr[starts + j] == tail[j]]
    if not starts.size:
        return []
    s = int(starts[0 if first else -1]) + n
    return arr[s:s + draft_tokens].tolist()


def lookup_draft(seq: Sequence[int], max_ngram: int = MAX_NGRAM, min_ngram: int = MIN_NGRAM,
                 draft_tokens: int = DRAFT_TOKENS, window: int = SEARCH_WINDOW,
                 recent: Sequence[int] = ()) -> tuple[list[int], bool]:
    """(guess, True when it came from `recent`): up to `draft_tokens` ids that followed an
    earlier occurrence of the last `n` ids of `seq` (longest `n` first, from `max_ngram` down to
    `min_ngram`), looked up first in `recent` (the previous request's stale tail, where the first
    occurrence counts: a new suggestion walks through the old one from its start) and then in
    `seq` (its most recent occurrence); ([], False) if none."""
    if draft_tokens <= 0 or len(seq) <= min_ngram:
        return [], False
    arr = np.asarray(seq[-window:], dtype=np.int64)
    old = np.asarray(recent[:RECENT_TOKENS], dtype=np.int64)
    size = len(arr)
    for n in range(min(max_ngram, size - 1), min_ngram - 1, -1):
        tail = arr[size - n:]
        if len(old) > n:
            found = _follower(old, tail, draft_tokens, first=True)
            if found:
                return found, True
        found = _follower(arr, tail, draft_tokens)
        if found:
            return found, False
    return [], False


@dataclass
class DraftStats:
    """Counts over a runtime's life: verification calls, tokens proposed and accepted (and of
    those, the ones guessed from the previous request's tail)."""

    calls: int = 0
    proposed: int = 0
    accepted: int = 0
    previous_proposed: int = 0
    previous_accepted: int = 0

    def as_dict(self) -> dict[str, Any]:
        rate = self.accepted / self.proposed if self.proposed else 0.0
        return {"calls": self.calls, "proposed": self.proposed, "accepted": self.accepted,
                "acceptRate": round(rate, 3),
                "fromPrevious": {"proposed": self.previous_proposed, "accepted": self.previous_accepted}}
