"""`smol-cpu`: the compute-efficient CodeT5+ recipe at this project's scale, sized for 2 CPU cores.

init (MiniLM encoder + frozen SmolLM2 decoder, fresh cross-attention in the top layer) ->
`contrastive` (encoder only: text-code InfoNCE, in-batch negatives, batch 64) ->
`stage2` (contrastive + matching with hard negatives + code->text + text->code summed; the
trainable parts are the encoder, the cross-attention and the heads; the decoder stays frozen).
Each stage has a wall-clock budget and resumes from its last checkpoint when re-run.

`smol-gpu` is the same recipe sized for one GPU and minutes of it: larger batches, every pair
of stage 2 through the decoder, the encoder reading 256 code tokens (what the runtime gives
it), a gentler learning rate for the fresh cross-attention, and validation on held-out pairs
every few hundred steps with the best model kept (`training.smol.trainer`).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from training.smol.trainer import SmolStageConfig

STAGE2_WEIGHTS = {"contrastive": 1.0, "matching": 0.5, "code_to_text": 1.0, "text_to_code": 0.25}


def smol_cpu_stages(pairs: Path, init: Path, scale: float = 1.0, threads: int = 2) -> list[SmolStageConfig]:
    """The stages with their budgets multiplied by `scale` (steps are upper bounds)."""
    contrastive = SmolStageConfig(
        name="contrastive", init_from=str(init), pairs=str(pairs), objectives={"contrastive": 1.0},
        steps=5000, batch_size=64, gen_batch_size=8, lr=3e-5, warmup_steps=20,
        time_budget_s=1500 * scale, checkpoint_every=25, threads=threads)
    # A stage-2 step through the frozen 135M decoder costs ~15 s on 2 cores, most of it forward
    # passes: code->text (the summaries the server shows) gets 8 pairs a step, matching and
    # text->code 4 each, matching reads 64 code tokens (what the server's re-rank reads).
    stage2 = dataclasses.replace(
        contrastive, name="stage2", objectives=dict(STAGE2_WEIGHTS), batch_size=32, gen_batch_size=8,
        side_batch_size=4, prompt_length=256, lr=2e-5, new_lr=1e-3, seed=1,
        time_budget_s=2100 * scale, checkpoint_every=10)
    return [contrastive, stage2]


def smol_gpu_stages(pairs: Path, init: Path, valid: Path, scale: float = 1.0, device: str = "cuda",
                    precision: str = "bf16") -> list[SmolStageConfig]:
    """The GPU sizing: `contrastive` 90 s and `stage2` 300 s of wall clock times `scale`."""
    contrastive = SmolStageConfig(
        name="contrastive", init_from=str(init), pairs=str(pairs), objectives={"contrastive": 1.0},
        steps=100_000, batch_size=128, gen_batch_size=8, lr=3e-5, warmup_steps=50, code_length=256,
        time_budget_s=90 * scale, checkpoint_every=500, log_every=50, device=device, precision=precision,
        valid_pairs=str(valid), valid_every=0)
    stage2 = dataclasses.replace(
        contrastive, name="stage2", objectives=dict(STAGE2_WEIGHTS), batch_size=64, gen_batch_size=32,
        side_batch_size=16, prompt_length=256, lr=2e-5, new_lr=1e-4, warmup_steps=100, seed=1,
        time_budget_s=300 * scale, checkpoint_every=500, valid_every=300, valid_n=256,
        valid_rerank_queries=100)
    return [contrastive, stage2]


def tiny_stages(pairs: Path, init: Path) -> list[SmolStageConfig]:
    """A seconds-long version for tests: every objective, a few steps each."""
    base = SmolStageConfig(name="contrastive", init_from=str(init), pairs=str(pairs),
                           objectives={"contrastive": 1.0}, steps=3, batch_size=4, gen_batch_size=2,
                           lr=1e-3, warmup_steps=1, checkpoint_every=2, text_length=16, code_length=32,
                           prompt_length=32, summary_length=8, code_target_length=16)
    return [base, dataclasses.replace(base, name="stage2", objectives=dict(STAGE2_WEIGHTS))]
