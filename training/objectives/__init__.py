"""CodeT5+ pretraining objectives, one small module each, and a registry to build them by name.

Every objective turns raw samples (token-id chunks for stage 1, text-code pair rows for stage 2,
instruction rows for tuning) into a batch with `build(samples, rng)` and scores it with
`loss(model, batch)`; see `training.objectives.base`.
"""
from __future__ import annotations

from typing import Any

from training.objectives.base import Objective

# objective name -> (module, class); imported lazily so the registry costs nothing to import
REGISTRY: dict[str, tuple[str, str]] = {
    "denoise": ("training.objectives.denoise", "SpanDenoising"),
    "seq2seq_clm": ("training.objectives.causal", "Seq2SeqCausalLM"),
    "decoder_clm": ("training.objectives.causal", "DecoderOnlyCausalLM"),
    "contrastive": ("training.objectives.contrastive", "TextCodeContrastive"),
    "matching": ("training.objectives.matching", "TextCodeMatching"),
    "text2code": ("training.objectives.generation", "TextToCode"),
    "code2text": ("training.objectives.generation", "CodeToText"),
    "instruct": ("training.objectives.generation", "InstructionFollowing"),
}


def build_objective(name: str, tokenizer: Any, model: Any, **params: Any) -> Objective:
    """Instantiate the objective `name` for `tokenizer`/`model` with its parameters."""
    import importlib

    if name not in REGISTRY:
        raise ValueError(f"unknown objective {name!r}; known: {', '.join(sorted(REGISTRY))}")
    module, cls = REGISTRY[name]
    factory = getattr(importlib.import_module(module), cls)
    try:
        return factory(tokenizer, model, **params)
    except TypeError as exc:
        raise ValueError(f"objective {name!r}: bad parameters {sorted(params)} ({exc})") from exc
