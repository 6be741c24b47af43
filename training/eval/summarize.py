"""Code summarisation: smoothed BLEU-4 of the first sentence of a generated docstring.

The reference is the first sentence of each row's docstring; a prediction is cut to its first
sentence too. Baseline: the docstring of the nearest other example by BM25 over code.
"""
from __future__ import annotations

import time
from typing import Any

from training.eval.baselines import neighbour_docstrings
from training.eval.bleu import corpus_smoothed_bleu
from training.eval.report import TaskReport
from training.eval.text import first_sentence


def evaluate_summarize(rows: list[dict[str, Any]], runtime=None, baselines: bool = False,
                       max_new_tokens: int = 48, num_beams: int = 1, data: str = "",
                       predictions_out: list | None = None, no_repeat_ngram: int | None = None,
                       min_new_tokens: int | None = None) -> TaskReport:
    """BLEU-4 of each system on `rows` ({"code", "docstring"}); `no_repeat_ngram` and
    `min_new_tokens` None decode with the runtime's defaults for summaries."""
    codes = [r["code"] for r in rows]
    refs = [first_sentence(r["docstring"]) for r in rows]
    report = TaskReport("summarize", data, len(rows))
    if runtime is not None:
        if not runtime.has_decoder:
            report.notes.append("bundle has no decoder: no summaries from it")
        else:
            from model.runtime.api import GenerationConfig

            cfg = GenerationConfig(max_new_tokens=max_new_tokens, num_beams=num_beams,
                                   no_repeat_ngram=no_repeat_ngram, min_new_tokens=min_new_tokens)
            t = time.monotonic()
            preds = [first_sentence(runtime.summarize(code, cfg).text) for code in codes]
            report.add("codet5p code->text", {"bleu4": corpus_smoothed_bleu(refs, preds)},
                       time.monotonic() - t)
            if predictions_out is not None:
                predictions_out.extend(preds)
    if baselines:
        t = time.monotonic()
        preds = [first_sentence(d) for d in neighbour_docstrings(codes, [r["docstring"] for r in rows])]
        report.add("baseline BM25-neighbour docstring", {"bleu4": corpus_smoothed_bleu(refs, preds)},
                   time.monotonic() - t)
    return report
