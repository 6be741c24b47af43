"""Sentence-level smoothed BLEU-4 as the CodeXGLUE code-to-text evaluator computes it.

The CodeXGLUE evaluator (`smooth_bleu.py` / `bleu.py`, used by CodeT5 and CodeT5+ for
summarisation) does, per example:
1. lower-case both strings and split words from punctuation (`[\\w]+|[^\\s\\w]`);
2. NIST mteval-v11a normalisation (unescape XML entities, lower-case, tokenize punctuation,
   periods and commas unless next to digits), then split on whitespace;
3. clipped n-gram counts for n = 1..4 against the reference (shortest reference length);
4. "smooth-1" (Lin & Och 2004): add 1 to the matches and to the candidate n-gram count for
   n >= 2 only; log precisions averaged; brevity penalty `min(0, 1 - (r + 1) / (c + 1))`
   added in log space (note the +1s);
5. the corpus score is the mean of the sentence scores times 100.
This module re-implements those definitions; `tests/eval/test_bleu.py` checks hand-computed cases.
"""
from __future__ import annotations

import math
import re
import sys
import xml.sax.saxutils
from collections import Counter
from typing import Sequence

_TINY = sys.float_info.min
_MAX_N = 4

_WORDS_AND_PUNCT = re.compile(r"[\w]+|[^\s\w]")
_NIST_1 = [(re.compile(p), r) for p, r in [("<skipped>", ""), (r"-\n", ""), (r"\n", " ")]]
_NIST_2 = [(re.compile(p), r) for p, r in [
    (r"([\{-\~\[-\` -\&\(-\+\:-\@\/])", r" \1 "),  # punctuation (the apostrophe is left alone)
    (r"([^0-9])([\.,])", r"\1 \2 "),                # period/comma unless preceded by a digit
    (r"([\.,])([^0-9])", r" \1 \2"),                # period/comma unless followed by a digit
    (r"([0-9])(-)", r"\1 \2 "),                     # dash after a digit
]]


def split_puncts(text: str) -> str:
    """CodeXGLUE's pre-processing: lower-case, words and single punctuation marks, space-joined."""
    return " ".join(_WORDS_AND_PUNCT.findall(text.strip().lower()))


def nist_tokens(text: str) -> list[str]:
    """NIST mteval-v11a normalisation and tokenisation (case-insensitive)."""
    for pattern, repl in _NIST_1:
        text = pattern.sub(repl, text)
    text = xml.sax.saxutils.unescape(text, {"&quot;": '"'})
    text = f" {text} ".lower()
    for pattern, repl in _NIST_2:
        text = pattern.sub(repl, text)
    return text.split()


def _ngrams(tokens: Sequence[str], max_n: int = _MAX_N) -> Counter:
    grams: Counter = Counter()
    for n in range(1, max_n + 1):
        for i in range(len(tokens) - n + 1):
            grams[tuple(tokens[i:i + n])] += 1
    return grams


def smoothed_bleu_tokens(references: Sequence[Sequence[str]], hypothesis: Sequence[str],
                         max_n: int = _MAX_N) -> float:
    """Smoothed sentence BLEU in [0, 1] on already tokenized text (one or more references)."""
    if not references:
        raise ValueError("need at least one reference")
    ref_max: Counter = Counter()
    for ref in references:
        for gram, count in _ngrams(ref, max_n).items():
            ref_max[gram] = max(ref_max[gram], count)
    ref_len = min(len(r) for r in references)
    hyp_len = len(hypothesis)
    correct = [0] * max_n
    for gram, count in _ngrams(hypothesis, max_n).items():
        correct[len(gram) - 1] += min(ref_max.get(gram, 0), count)
    log_bleu = 0.0
    for k in range(max_n):
        guess = max(hyp_len - k, 0)
        add = 1 if k > 0 else 0
        log_bleu += math.log(correct[k] + add + _TINY) - math.log(guess + add + _TINY)
    log_bleu /= max_n
    brevity = min(0.0, 1.0 - (ref_len + 1) / (hyp_len + 1))
    return math.exp(log_bleu + brevity)


def sentence_bleu(reference: str | Sequence[str], hypothesis: str) -> float:
    """Smoothed BLEU-4 of one hypothesis in [0, 100], CodeXGLUE pre-processing included."""
    refs = [reference] if isinstance(reference, str) else list(reference)
    ref_tokens = [nist_tokens(split_puncts(r)) for r in refs]
    return 100.0 * smoothed_bleu_tokens(ref_tokens, nist_tokens(split_puncts(hypothesis)))


def corpus_smoothed_bleu(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Mean sentence-level smoothed BLEU-4 (0-100): the number CodeXGLUE/CodeT5+ report."""
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    if not references:
        return 0.0
    return sum(sentence_bleu(r, h) for r, h in zip(references, hypotheses)) / len(references)
