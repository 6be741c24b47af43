"""Named recipes: corpus -> tokenizer -> stage 1 (denoising warm-up, then the mixture) -> stage 2
-> instruction tuning -> export, each step resumable.

`tiny` runs on the fixtures in `tests/training/fixtures/corpus` in a few minutes; `small` is
sized for a 2-core CPU (the `small` model config, ~17M parameters) and runs unchanged, faster, on
a CUDA GPU; `small-gpu` trains the same model for a fixed GPU time (400 s of training on one
H100): larger batches, each stage given a wall-clock budget that its learning-rate decay
follows (`training.budget`), batches built by worker processes. Stage settings are
`TrainConfig` fields; `data`, `tokenizer` and `init_from` are filled in by `training.pipeline`.

`small-gpu`'s instruction stage also replays the earlier objectives (`INSTRUCT_WITH_REPLAY`), so
the shipped model does not trade completion, summaries and search for instruction following.

The contrastive objective runs with in-batch negatives only (its default, no queue) in `small`
and `small-gpu`: with online batch keys, a queue of momentum keys lets the loss fall to ln(batch)
by telling stale keys from fresh ones, while the in-batch discrimination that search needs stays
at chance (`model/MODEL_CARD_small-v1.md`, "Search"). `tiny` keeps a small queue so CI covers that path.

`ABLATIONS` are the paper's two, applied to any recipe: `no-clm` drops the causal LM objectives
from stage 1, `no-matching` drops the matching objective from stage 2. Every stage before the
changed one is unchanged, so an ablation run can reuse those stages from the full run.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "training" / "fixtures" / "corpus"

STAGE1_OBJECTIVES = {"denoise": 1.0, "seq2seq_clm": 1.0, "decoder_clm": 1.0}
STAGE2_OBJECTIVES = {"contrastive": 1.0, "matching": 1.0, "text2code": 1.0, "code2text": 1.0}
# instruction tuning that keeps the server's abilities: each micro-batch is an instruction batch
# or a replay of a stage-1 / stage-2 objective (completion, FIM, summaries, search)
INSTRUCT_WITH_REPLAY = {"instruct": 0.4, "decoder_clm": 0.2, "denoise": 0.1, "code2text": 0.1,
                        "contrastive": 0.1, "matching": 0.1}

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
            ("instruct", "instructions", {"objectives": {"instruct": 0.6, "decoder_clm": 0.2, "code2text": 0.2},
                                          "steps": 10, "batch_size": 4, "chunk_length": 128,
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


def _gpu_stage(settings: dict[str, Any], budget_s: float, workers: int) -> dict[str, Any]:
    return {**settings, "steps": 1_000_000, "time_budget_s": budget_s, "data_workers": workers,
            "checkpoint_every": 1_000_000, "keep_checkpoints": 1, "log_every": 50}


# 3e-4, not 1e-3: with AdamW at 1e-3 the `small` config does not learn to read its encoder at all
# (`bench/copy_task.py`: a 10-token copy stays at chance loss over 600 steps, while 3e-4 learns it),
# and `small-v1`, trained at 1e-3, has a decoder that barely uses its encoder
# (`bench/encoder_reliance.py`; model/MODEL_CARD_small-v1.md, "Search")
_CHUNKS = {"chunk_length": 256, "batch_size": 128, "lr": 3e-4}
RECIPES["small-gpu"] = {
    **{k: v for k, v in RECIPES["small"].items() if k != "stages"},
    "stages": [
        ("stage1_denoise", "chunks", _gpu_stage({"objectives": {"denoise": 1.0}, **_CHUNKS,
                                                 "objective_args": {"denoise": {"fim_rate": 0.25}},
                                                 "warmup_steps": 50}, 20, 4)),
        ("stage1", "chunks", _gpu_stage({"objectives": STAGE1_OBJECTIVES, **_CHUNKS,
                                         "objective_args": {"denoise": {"fim_rate": 0.25}},
                                         "warmup_steps": 200}, 190, 4)),
        ("stage2", "pairs", _gpu_stage({"objectives": STAGE2_OBJECTIVES, "mixture": "sum",
                                        "batch_size": 64, "lr": 3e-4, "warmup_steps": 50}, 110, 5)),
        ("instruct", "instructions", _gpu_stage({"objectives": INSTRUCT_WITH_REPLAY, "batch_size": 64,
                                                 "objective_args": {"denoise": {"fim_rate": 0.5}},
                                                 "chunk_length": 256, "lr": 2e-4, "warmup_steps": 30},
                                                80, 5)),
    ],
    "threads": 2,
}

# ablation -> (stage it changes, objectives that stage loses)
ABLATIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "no-clm": ("stage1", ("seq2seq_clm", "decoder_clm")),
    "no-matching": ("stage2", ("matching",)),
}


def get_recipe(name: str, ablation: str | None = None) -> dict[str, Any]:
    """A copy of recipe `name`, with `ablation` (a key of `ABLATIONS`) applied."""
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; known: {', '.join(sorted(RECIPES))}")
    recipe = copy.deepcopy(RECIPES[name])
    if ablation is None:
        return recipe
    if ablation not in ABLATIONS:
        raise ValueError(f"unknown ablation {ablation!r}; known: {', '.join(sorted(ABLATIONS))}")
    stage, dropped = ABLATIONS[ablation]
    for name_, _kind, settings in recipe["stages"]:
        if name_ == stage:
            settings["objectives"] = {k: v for k, v in settings["objectives"].items() if k not in dropped}
            settings["objective_args"] = {k: v for k, v in settings.get("objective_args", {}).items()
                                          if k not in dropped}
    recipe["ablation"] = {"name": ablation, "changes": stage, "drops": list(dropped)}
    return recipe


def first_changed_stage(recipe: dict[str, Any]) -> str | None:
    """The first stage an ablation changes (None for the full recipe)."""
    return recipe.get("ablation", {}).get("changes")
