"""The one training loop for every stage (stage 1, stage 2, instruction tuning).

`train(config, run_dir)` builds the model (fresh or from a model directory), the objectives named
in the config, and their data; then runs AdamW with linear warm-up and linear decay, gradient
accumulation, an objective mixture (`sample`: one objective per micro-batch drawn by weight;
`sum`: the weighted sum of all objectives on the same samples), bf16 autocast on CUDA, and DDP
when started by `torchrun` (gloo on CPU). Which samples and which objective a micro-batch gets
depend only on (seed, step, global micro-batch index), so 2 processes x 1 micro-batch and
1 process x 2 accumulated micro-batches compute the same update, and a resumed run continues
exactly where the interrupted one stopped.

The run directory gets `resolved_config.json`, `git_revision.txt`, `metrics.jsonl`, `loss.png`,
`checkpoints/step-N/` (see `training.checkpoint`) and `final/` (a model directory).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from training.batches import BatchPlan, BatchPrefetcher, SampleOrder, step_keys, to_device
from training.budget import StepBudget, lr_at  # noqa: F401 (lr_at re-exported)
from training.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from training.config import TrainConfig
from training.distributed import DistInfo, all_reduce_max, all_reduce_sum, barrier, cleanup, init_distributed
from training.metrics import MetricsLog, git_revision

log = logging.getLogger(__name__)


class TrainModule(nn.Module):
    """The model plus its objectives, so DDP sees every trainable parameter once."""

    def __init__(self, model: nn.Module, objectives: nn.ModuleDict) -> None:
        super().__init__()
        self.model = model
        self.objectives = objectives

    def forward(self, batches: dict[str, dict[str, torch.Tensor]],
                weights: dict[str, float]) -> tuple[torch.Tensor, dict[str, float], int]:
        total: torch.Tensor | None = None
        parts: dict[str, float] = {}
        tokens = 0
        for name, batch in batches.items():
            loss, n = self.objectives[name].loss(self.model, batch)
            parts[name] = float(loss.detach())
            tokens += n
            term = loss * weights[name]
            total = term if total is None else total + term
        assert total is not None
        return total, parts, tokens


def _device(config: TrainConfig) -> torch.device:
    if config.device == "cuda" or (config.device == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


def _load_model(config: TrainConfig) -> tuple[Any, Any]:
    from model.config import get_config
    from model.modeling import build_model, load_model_dir
    from model.tokenizer import CodeTokenizer

    if config.init_from:
        model, tok = load_model_dir(config.init_from)
        if config.model_overrides:
            log.warning("model_overrides ignored: the model comes from %s", config.init_from)
    else:
        tok = CodeTokenizer.from_file(config.tokenizer)
        mcfg = get_config(config.model, **config.model_overrides).with_vocab(tok.vocab_size)
        model = build_model(mcfg, seed=config.seed)
    return model, tok


def _load_data(config: TrainConfig, kinds: set[str], tok: Any, model_cfg: Any, run_dir: Path) -> dict[str, Sequence[Any]]:
    from training.data.datasets import TokenChunks, load_rows

    data: dict[str, Sequence[Any]] = {}
    for kind in kinds:
        path = Path(config.data_for.get(kind, config.data))
        if kind == "chunks":
            length = config.chunk_length or model_cfg.max_source_length - 1
            # shared by the stages of a recipe: keyed by tokenizer, data file and chunking
            key = hashlib.sha256(f"{tok.sha256()}|{path.resolve()}|{length}|{config.min_chunk_length}"
                                 .encode()).hexdigest()[:16]
            data[kind] = TokenChunks.build(path, tok, length, config.min_chunk_length,
                                           cache=run_dir.parent / ".chunk-cache" / f"chunks-{key}.safetensors")
        elif kind == "pairs":
            data[kind] = load_rows(path, ("docstring", "code"))
        elif kind == "instructions":
            data[kind] = load_rows(path, ("instruction", "response"))
        else:
            raise ValueError(f"unknown sample kind {kind!r}")
    return data


def _optimizer(module: nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    decay, no_decay = [], []
    for name, p in module.named_parameters():
        if not p.requires_grad:
            continue
        (decay if p.dim() >= 2 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": config.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    fused = all(p.is_cuda for g in groups for p in g["params"])
    return torch.optim.AdamW(groups, lr=config.lr, betas=tuple(config.betas), fused=fused or None)


def prepare_run_dir(run_dir: Path, config: TrainConfig, info: DistInfo) -> None:
    if not info.is_main:
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "resolved_config.json").write_text(config.to_json())
    (run_dir / "git_revision.txt").write_text(git_revision() + "\n")


@dataclass
class TrainResult:
    run_dir: Path
    final_dir: Path | None
    step: int
    last_loss: float
    tokens_per_s: float


def train(config: TrainConfig, run_dir: str | Path, stop_after: int | None = None) -> TrainResult:
    """Run (or resume) the stage `config` describes in `run_dir`.

    `stop_after` ends the process's work after that step (having saved a checkpoint), as an
    interruption would; calling `train` again resumes from it.
    """
    run_dir = Path(run_dir)
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    device = _device(config)
    info = init_distributed(device)
    if device.type == "cuda":
        torch.cuda.set_device(info.local_rank)
        device = torch.device("cuda", info.local_rank)
    try:
        return _train(config, run_dir, device, info, stop_after)
    finally:
        cleanup(info)


def _train(config: TrainConfig, run_dir: Path, device: torch.device, info: DistInfo,
           stop_after: int | None) -> TrainResult:
    from training.objectives import build_objective

    prepare_run_dir(run_dir, config, info)
    barrier(info)
    torch.manual_seed(config.seed)
    model, tok = _load_model(config)
    model.train()
    objectives = nn.ModuleDict({
        name: build_objective(name, tok, model, **config.objective_args.get(name, {}))
        for name, w in config.objectives.items() if w > 0})
    if info.is_main:
        data = _load_data(config, {o.kind for o in objectives.values()}, tok, model.model_config, run_dir)
    barrier(info)
    if not info.is_main:  # rank 0 built the caches; the others read them
        data = _load_data(config, {o.kind for o in objectives.values()}, tok, model.model_config, run_dir)
    weights = {n: float(config.objectives[n]) for n in objectives.keys()}
    plan = BatchPlan(weights, config.mixture, config.seed, config.batch_size,
                     info.world_size * config.grad_accum, objectives, data,
                     {kind: SampleOrder(len(ds), config.seed) for kind, ds in data.items()})
    # forked before the objectives move to the GPU: the workers hold CPU copies
    prefetch = BatchPrefetcher(plan, config.data_workers)
    try:
        return _loop(config, run_dir, device, info, stop_after, model, tok, objectives, plan, prefetch)
    finally:
        prefetch.close()


def _loop(config: TrainConfig, run_dir: Path, device: torch.device, info: DistInfo,
          stop_after: int | None, model: Any, tok: Any, objectives: nn.ModuleDict, plan: BatchPlan,
          prefetch: BatchPrefetcher) -> TrainResult:
    from model.modeling import save_model_dir

    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    module = TrainModule(model, objectives).to(device)
    optimizer = _optimizer(module, config)
    ckpt_root = run_dir / "checkpoints"
    start_step, tokens_seen = 0, 0.0
    latest = latest_checkpoint(ckpt_root)
    if latest is not None:
        state = load_checkpoint(latest, model, objectives, optimizer)
        if state.get("config") != config.to_dict():
            log.warning("%s: config differs from the checkpoint's; continuing with the new one", latest)
        start_step, tokens_seen = int(state["step"]), float(state.get("tokens", 0.0))
    budget = StepBudget(run_dir, config.time_budget_s, config.steps, start_step,
                        agree=(lambda x: all_reduce_max(x, info)) if info.enabled else None)
    if start_step >= budget.steps:
        log.info("%s: already trained to step %d", run_dir, start_step)
    wrapped: nn.Module = module
    if info.enabled:
        from torch.nn.parallel import DistributedDataParallel as DDP

        wrapped = DDP(module, device_ids=[device.index] if device.type == "cuda" else None,
                      find_unused_parameters=True, broadcast_buffers=False)
    names, weights = plan.names, plan.weights
    per_step = info.world_size * config.grad_accum * config.batch_size
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if device.type == "cuda" \
        else contextlib.nullcontext
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    metrics = MetricsLog(run_dir, budget.steps, start_step, enabled=info.is_main)
    if info.is_main:
        log.info("training %s: %d params, %s steps of %d samples, objectives %s, device %s x%d%s",
                 config.stage, sum(p.numel() for p in model.parameters()),
                 budget.steps if not budget.active else f"<= {budget.steps}",
                 per_step, weights, device, info.world_size,
                 f", budget {config.time_budget_s:.0f} s" if budget.active else "")
    batches = prefetch.iterate(step_keys(start_step, lambda: budget.steps, config.grad_accum, info.rank))
    last_loss = float("nan")
    step = start_step
    while step < budget.steps:
        lr = budget.lr(step, config)
        for group in optimizer.param_groups:
            group["lr"] = lr
        step_loss, step_tokens = 0.0, 0
        parts_sum: dict[str, float] = {}
        parts_n: dict[str, int] = {}
        for micro in range(config.grad_accum):
            chosen, arrays = next(batches)
            batch_on_device = {name: to_device(a, device) for name, a in arrays.items()}
            sync_ctx = contextlib.nullcontext() if (not info.enabled or micro == config.grad_accum - 1) \
                else wrapped.no_sync()
            with sync_ctx:
                with autocast():
                    loss, parts, n_tok = wrapped(batch_on_device, {n: weights[n] if config.mixture == "sum" else 1.0
                                                                   for n in chosen})
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"{run_dir}: non-finite loss at step {step} ({parts})")
                (loss / config.grad_accum).backward()
            step_loss += float(loss.detach()) / config.grad_accum
            step_tokens += n_tok
            for n, v in parts.items():
                parts_sum[n] = parts_sum.get(n, 0.0) + v
                parts_n[n] = parts_n.get(n, 0) + 1
        grad_norm = float(torch.nn.utils.clip_grad_norm_(
            [p for p in module.parameters() if p.requires_grad], config.grad_clip))
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        budget.after_step(step, sync)
        metrics.total = budget.steps
        loss_all = all_reduce_sum(step_loss, info) / info.world_size
        tokens_all = all_reduce_sum(float(step_tokens), info)
        tokens_seen += tokens_all
        row: dict[str, Any] = {"step": step, "loss": loss_all, "lr": lr, "grad_norm": grad_norm,
                               "tokens": tokens_all, "tokens_seen": tokens_seen}
        for n in names:  # every rank reports every name so the reductions line up
            s = all_reduce_sum(parts_sum.get(n, 0.0), info)
            c = all_reduce_sum(float(parts_n.get(n, 0)), info)
            if c:
                row[f"loss/{n}"] = s / c
        metrics.record(row)
        last_loss = loss_all
        if info.is_main and (step % config.log_every == 0 or step == budget.steps or step == start_step + 1):
            metrics.progress(row)
        stopping = stop_after is not None and step >= stop_after
        if step % config.checkpoint_every == 0 or step == budget.steps or stopping:
            if info.is_main:
                save_checkpoint(ckpt_root, step, model, tok, objectives, optimizer,
                                {"config": config.to_dict(), "tokens": tokens_seen},
                                keep=config.keep_checkpoints)
                metrics.plot()
            barrier(info)
        if stopping:
            break
    batches.close()
    final_dir = None
    if step >= budget.steps:
        final_dir = run_dir / "final"
        if info.is_main:
            model.eval()
            save_model_dir(model, tok, final_dir, extra={"train_config": config.to_dict(), "steps": step,
                                                         "git_revision": git_revision()})
            metrics.plot()
            (run_dir / "DONE").write_text(json.dumps({"step": step, "loss": last_loss}) + "\n")
        barrier(info)
    tps = metrics.tokens / max(1e-9, time.perf_counter() - metrics.t0)
    return TrainResult(run_dir, final_dir, step, last_loss, tps)
