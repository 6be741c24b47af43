"""Named recipes: corpus -> tokenizer -> stage 1 (denoising warm-up, then the mixture) -> stage 2
-> instruction tuning -> export, each step resumable.

`tiny` runs on the fixtures in `tests/training/fixtures/corpus` in a few minutes; `small` is
sized for a 2-core CPU (the `small` model config, ~17M parameters) and runs unchanged, faster, on
a CUDA GPU. Stage settings are `TrainConfig` fields; `data`, `tokenizer` and `init_from` are
filled in by `training.pipeline`.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "training" / "fixtures" / "corpus"

STAGE1_OBJECTIVES = {"denoise": 1.0, "seq2seq_clm": 1.0, "decoder_clm": 1.0}
STAGE2_OBJECTIVES = {"contrastive": 1.0, "matching": 1.0, "text2code": 1.0, "code2text": 1.0}

RECIPES: dict[str, dict[str, Any]] = {
    "tiny": {
        "model": "tiny",
        "corpus": {"stdlib": str(FIXTURES / "stdlib"), "dist_dirs": [str(FIXTURES / "dists")],
                   "valid_fraction": 0.2, "heldout_n": 20},
        "tokenizer": {"vocab_size": 600, "min_frequency": 2, "max_chars": 0},
        "instructions": {"ngram": 13, "max_examples": 0},
        "stages": [
            ("stage1_denoise", "chunks", {"objectives": {"denoise": 1.0},
                                           "objective_args": {"denoise": {"fim_rate": 0.25}},
                                           "steps": 10, "batch_size": 4, "lr": 2e-3, "warmup_steps": 2,
                                           "chunk_length": 128, "checkpoint_every": 10, "log_every": 5}),
            ("stage1", "chunks", {"objectives": STAGE1_OBJECTIVES,
                                  "objective_args": {"denoise": {"fim_rate": 0.25}},
                                  "steps": 20, "batch_size": 4, "lr": 2e-3, "warmup_steps": 2,
                                  "chunk_length": 128, "checkpoint_every": 10, "log_every": 5}),
            ("stage2", "pairs", {"objectives": STAGE2_OBJECTIVES, "mixture": "sum",
                                 "objective_args": {"contrastive": {"queue_size": 16}},
                                 "steps": 15, "batch_size": 4, "lr": 1e-3, "warmup_steps": 2,
                                 "checkpoint_every": 15, "log_every": 5}),
            ("instruct", "instructions", {"objectives": {"instruct": 1.0}, "steps": 10, "batch_size": 4,
                                          "lr": 5e-4, "warmup_steps": 1, "checkpoint_every": 10,
                                          "log_every": 5}),
        ],
        "export": {"from": "instruct", "quantize": True},
        "threads": 1,
    },
    "small": {
        "model": "small",
        "corpus": {"valid_fraction": 0.03, "heldout_n": 1000},
        "tokenizer": {"vocab_size": 16384, "min_frequency": 2, "max_chars": 60_000_000},
        "instructions": {"ngram": 13, "max_examples": 60000},
        "stages": [
            ("stage1_denoise", "chunks", {"objectives": {"denoise": 1.0},
                                           "objective_args": {"denoise": {"fim_rate": 0.25}},
                                           "steps": 200, "batch_size": 8, "grad_accum": 2, "lr": 5e-4,
                                           "warmup_steps": 50, "chunk_length": 256,
                                           "checkpoint_every": 50, "log_every": 10}),
            ("stage1", "chunks", {"objectives": STAGE1_OBJECTIVES,
                                  "objective_args": {"denoise": {"fim_rate": 0.25}},
                                  "steps": 2000, "batch_size": 8, "grad_accum": 2, "lr": 5e-4,
                                  "warmup_steps": 50, "chunk_length": 256,
                                  "checkpoint_every": 50, "log_every": 10}),
            ("stage2", "pairs", {"objectives": STAGE2_OBJECTIVES, "mixture": "sum",
                                 "objective_args": {"contrastive": {"queue_size": 512}},
                                 "steps": 400, "batch_size": 8, "lr": 2e-4, "warmup_steps": 30,
                                 "checkpoint_every": 50, "log_every": 10}),
            ("instruct", "instructions", {"objectives": {"instruct": 1.0}, "steps": 400,
                                          "batch_size": 8, "lr": 1e-4, "warmup_steps": 20,
                                          "checkpoint_every": 50, "log_every": 10}),
        ],
        "export": {"from": "instruct", "quantize": True},
        "threads": 2,
    },
}


def get_recipe(name: str) -> dict[str, Any]:
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; known: {', '.join(sorted(RECIPES))}")
    return copy.deepcopy(RECIPES[name])
