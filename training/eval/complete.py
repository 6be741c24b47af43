"""Line completion, PY150 style: predict the rest of the line at the end of `input`.

Modes of the bundle: decoder-only (`causal`: the left context is the decoder prefix) and
fill-in-the-middle (`fim`: prefix + `suffix` if the row has one). The prediction is the
generated text up to the first newline. Baseline: repeat the most similar earlier line.
"""
from __future__ import annotations

import time
from typing import Any, Sequence

from training.eval.baselines import earlier_line_completion
from training.eval.metrics import completion_metrics
from training.eval.report import TaskReport

MODES = ("causal", "fim")


def _first_line(text: str) -> str:
    return text.split("\n", 1)[0]


def evaluate_complete(rows: list[dict[str, Any]], runtime=None, baselines: bool = False,
                      modes: Sequence[str] = MODES, max_new_tokens: int = 32,
                      max_context_chars: int = 8000, data: str = "") -> TaskReport:
    """Exact match (%) and edit similarity (0-100) of each system on `rows` ({"input", "gt"})."""
    golds = [r["gt"] for r in rows]
    report = TaskReport("complete", data, len(rows))
    if runtime is not None:
        if not runtime.has_decoder:
            report.notes.append("bundle has no decoder: no completions from it")
        else:
            from model.runtime.api import GenerationConfig

            cfg = GenerationConfig(max_new_tokens=max_new_tokens, stop_at_newline=True)
            for mode in modes:
                if mode not in MODES:
                    raise ValueError(f"unknown completion mode {mode!r}; choose from {', '.join(MODES)}")
                t = time.monotonic()
                preds = []
                for r in rows:
                    prefix = r["input"][-max_context_chars:]
                    suffix = r.get("suffix", "")[:max_context_chars] if mode == "fim" else ""
                    gen = runtime.complete(prefix, suffix, cfg, mode=mode)
                    preds.append(_first_line(gen.text))
                name = "codet5p decoder-only" if mode == "causal" else "codet5p fill-in-the-middle"
                report.add(name, completion_metrics(preds, golds), time.monotonic() - t)
            if "fim" in modes and not any(r.get("suffix") for r in rows):
                report.notes.append("no row has a 'suffix': fill-in-the-middle ran with empty suffixes")
    if baselines:
        t = time.monotonic()
        preds = [earlier_line_completion(r["input"][-200_000:]) for r in rows]
        report.add("baseline repeat earlier line", completion_metrics(preds, golds), time.monotonic() - t)
    return report
