"""Types of the torch-free inference API shared by the runtime and its callers (the server).

The runtime (`model.runtime.Runtime`) loads an exported bundle and offers `embed`, `generate`,
`complete`, `summarize`, `text_to_code` and `match_scores`. These dataclasses and the error type
are all a caller needs to import besides it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

StopReason = Literal["eos", "newline", "stop_string", "max_tokens", "deadline", "sentinel"]


class BundleError(ValueError):
    """A bundle is missing, corrupt or inconsistent; the message names the file and the fault."""


@dataclass(frozen=True)
class GenerationConfig:
    """How to decode: greedy (`num_beams=1`) or beam search, and when to stop."""

    max_new_tokens: int = 32
    num_beams: int = 1
    stop_at_newline: bool = False
    stop_strings: tuple[str, ...] = ()
    deadline: float | None = None  # absolute `time.monotonic()`; past it decoding stops
    length_penalty: float = 1.0
    # Source budget in tokens for completion prompts (FIM encoder input / causal prefix); None:
    # the model's `max_source_length` (FIM) or the format's default (causal). Smaller is faster.
    max_source_length: int | None = None
    # Greedy decoder-only decoding may check up to this many tokens guessed from the prompt in one
    # decoder call (`model.runtime.draft`; the output is unchanged); 0 turns it off.
    draft_tokens: int = 6
    # Greedy decoding never repeats an n-gram of its own output of this length (0: off; None: the
    # task's default, which is off except for summaries: `model.runtime.repetition`).
    no_repeat_ngram: int | None = None
    # Smol runtime: no end (end of sequence, line break, quote, sentence end) before this many
    # generated tokens; None: the task's default (0 except for summaries).
    min_new_tokens: int | None = None


@dataclass
class Generation:
    """A decoded result: text (specials removed, stop text cut), ids, why it stopped."""

    text: str
    token_ids: list[int] = field(default_factory=list)
    stop_reason: StopReason = "max_tokens"
    latency_ms: float = 0.0
