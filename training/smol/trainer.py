"""One resumable stage of smol training: AdamW on the trainable parts, the decoder frozen.

A run directory holds `resolved_config.json`, `git_revision.txt`, `metrics.jsonl` (loss per
objective, lr, tokens/s, ETA), `checkpoints/step-N/` (a smol model directory with the trained
parts + `optimizer.safetensors`/`optimizer.json` + `trainer.json`; `LATEST` names the newest)
and `final/`. Batches depend only on (seed, step), so a resumed run sees the same data as an
uninterrupted one. `time_budget_s` > 0 ends the stage when the budget is spent (the learning
rate decays linearly with time after warm-up, as `training.budget` does for the T5 kind).

`device` / `precision` run the stage on a GPU (`cuda`, bf16 autocast; the weights and the
optimizer stay fp32). With `valid_pairs` and `valid_every` > 0 the model is scored every that many
steps by `training.smol.validate` (greedy summaries' BLEU-4, embedding and re-rank MRR, on
`valid_n` pairs sampled over the whole file, seed 0) into `valid.jsonl`; the best by `select_by` is kept in `best/`, and `final/` is that model, not the
last step's (loss alone did not show a cross-attention driving the decoder to generic text).
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from model.smol.model_dir import DEC_TOKENIZER, DECODER_FILE, ENC_TOKENIZER, TRAINED_FILE, load_smol_dir, save_smol_dir
from model.smol.modeling import SmolCodeT5p, count_parameters, load_weights
from training.checkpoint import CheckpointError, optimizer_from_files, optimizer_to_files
from training.eval.data import sample_rows
from training.metrics import MetricsLog, git_revision
from training.smol.objectives import NAMES, ObjectiveState, stage_losses
from training.smol.validate import autocast, validate

log = logging.getLogger(__name__)
LATEST = "LATEST"


@dataclass
class SmolStageConfig:
    """One stage: which objectives, on how much data, for how long."""

    name: str = "stage2"
    init_from: str = ""  # smol model directory to start from
    pairs: str = ""  # JSONL rows with docstring / code
    objectives: dict[str, float] = field(default_factory=lambda: {"contrastive": 1.0})
    steps: int = 100
    batch_size: int = 32  # pairs per step for the encoder objectives
    gen_batch_size: int = 8  # of those, pairs that also run through the decoder (code->text)
    side_batch_size: int = 0  # pairs for matching and text->code (0: gen_batch_size)
    match_code_length: int = 64  # decoder tokens of code the matching head reads (the server's re-rank)
    lr: float = 5e-5  # pretrained parts (encoder, embedding projection)
    new_lr: float = 1e-3  # parts that start fresh (cross-attention, matching head, temperature)
    warmup_steps: int = 20
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    train_encoder: bool = True
    train_decoder: bool = False  # the frozen-vs-unfrozen A/B only: the recipe keeps it frozen
    text_length: int = 64
    code_length: int = 128
    prompt_length: int = 192
    summary_length: int = 48
    code_target_length: int = 128
    time_budget_s: float = 0.0
    checkpoint_every: int = 50
    keep_checkpoints: int = 2
    log_every: int = 5
    seed: int = 0
    threads: int = 0
    device: str = "cpu"  # "cuda" on a GPU machine
    precision: str = "fp32"  # "bf16": autocast on a GPU
    valid_pairs: str = ""  # JSONL pairs scored during training (never the test split)
    valid_every: int = 0  # steps between validations (0: none)
    valid_n: int = 256  # validation pairs used
    valid_rerank_queries: int = 100
    select_by: str = "valid_bleu4"  # the validation figure that picks `best/`

    def validate(self) -> None:
        unknown = sorted(set(self.objectives) - set(NAMES))
        if unknown:
            raise ValueError(f"unknown objectives {unknown}; known: {', '.join(NAMES)}")
        if not any(w > 0 for w in self.objectives.values()):
            raise ValueError("every objective weight is 0")
        if self.steps < 1 or self.batch_size < 2 or not 1 <= self.gen_batch_size <= self.batch_size \
                or not 0 <= self.side_batch_size <= self.batch_size:
            raise ValueError("need steps >= 1, batch_size >= 2, 1 <= gen_batch_size <= batch_size "
                             "and 0 <= side_batch_size <= batch_size")
        if not self.init_from or not self.pairs:
            raise ValueError("init_from and pairs are required")
        if self.precision not in ("fp32", "bf16"):
            raise ValueError(f"precision must be fp32 or bf16, not {self.precision!r}")
        if self.valid_every > 0 and not self.valid_pairs:
            raise ValueError("valid_every > 0 needs valid_pairs")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def read_pairs(path: Path) -> list[dict[str, str]]:
    """Rows with non-empty string `docstring` and `code`; malformed lines are counted and skipped."""
    rows, bad = [], 0
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                row = json.loads(line)
                if isinstance(row.get("docstring"), str) and isinstance(row.get("code"), str) \
                        and row["docstring"].strip() and row["code"].strip():
                    rows.append({"docstring": row["docstring"], "code": row["code"]})
                    continue
            except (json.JSONDecodeError, AttributeError):
                pass
            bad += 1
    if bad:
        log.warning("%s: skipped %d malformed lines", path, bad)
    if len(rows) < 2:
        raise ValueError(f"{path}: fewer than 2 usable pairs")
    return rows


def lr_at(cfg: SmolStageConfig, step: int, elapsed: float) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    if cfg.time_budget_s > 0:
        return cfg.lr * max(0.0, 1.0 - elapsed / cfg.time_budget_s)
    span = max(1, cfg.steps - cfg.warmup_steps)
    return cfg.lr * max(0.0, 1.0 - (step - cfg.warmup_steps) / span)


def _trainable(model: SmolCodeT5p, cfg: SmolStageConfig) -> None:
    model.freeze_decoder()
    if cfg.train_decoder:
        for p in model.parameters():
            p.requires_grad = True
    if not cfg.train_encoder:
        for p in model.encoder.parameters():
            p.requires_grad = False


def _write_model(model: SmolCodeT5p, src: Path, info: dict[str, Any], cfg: SmolStageConfig, directory: Path,
                 step: int, **updates: Any) -> None:
    """A smol model directory of `model` in `directory`: the start's config and tokenizers, its
    step counter advanced by `step`, `updates` added (the decoder only where the start carries one)."""
    extra = {k: v for k, v in info.items() if k not in ("model", "decoder")}
    extra.update(step=int(info.get("step", 0)) + step, **updates)
    save_smol_dir(model, src / ENC_TOKENIZER, src / DEC_TOKENIZER, directory, info["decoder"], extra,
                  with_decoder=(src / DECODER_FILE).is_file() or cfg.train_decoder)  # a test model carries its own


def _save(ckpt_root: Path, step: int, model: SmolCodeT5p, state: ObjectiveState, opt: torch.optim.Optimizer,
          src: Path, info: dict[str, Any], cfg: SmolStageConfig, elapsed: float, tokens: int) -> Path:
    tmp = ckpt_root / f".tmp-step-{step:07d}"
    final = ckpt_root / f"step-{step:07d}"
    if tmp.exists():
        shutil.rmtree(tmp)
    _write_model(model, src, info, cfg, tmp, step)
    tensors, scalars = optimizer_to_files(opt)
    save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp / "optimizer.safetensors"))
    save_file({k: v.detach().cpu().contiguous() for k, v in state.state_dict().items()},
              str(tmp / "objectives.safetensors"))
    (tmp / "optimizer.json").write_text(json.dumps(scalars))
    (tmp / "trainer.json").write_text(json.dumps({"step": step, "elapsed_s": elapsed, "tokens": tokens,
                                                  "config": cfg.to_dict()}, indent=2))
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    (ckpt_root / LATEST).write_text(final.name)
    old = sorted(p for p in ckpt_root.glob("step-*") if p.is_dir())
    for p in old[:-cfg.keep_checkpoints]:
        shutil.rmtree(p, ignore_errors=True)
    return final


def _resume(ckpt_root: Path, model: SmolCodeT5p, state: ObjectiveState,
            opt: torch.optim.Optimizer) -> tuple[int, float, int]:
    latest = ckpt_root / LATEST
    if not latest.is_file():
        return 0, 0.0, 0
    path = ckpt_root / latest.read_text().strip()
    try:
        load_weights(model, load_file(str(path / TRAINED_FILE)), str(path / TRAINED_FILE), model.trainable_prefixes())
        state.load_state_dict(load_file(str(path / "objectives.safetensors")))
        opt.load_state_dict(optimizer_from_files(load_file(str(path / "optimizer.safetensors")),
                                                 json.loads((path / "optimizer.json").read_text())))
        meta = json.loads((path / "trainer.json").read_text())
    except Exception as exc:  # safetensors / json / shape errors: say which checkpoint
        raise CheckpointError(f"{path}: cannot resume from this checkpoint ({exc})") from exc
    log.info("resuming from %s", path)
    return int(meta["step"]), float(meta["elapsed_s"]), int(meta["tokens"])


def train_stage(cfg: SmolStageConfig, run_dir: str | Path, stop_after: int | None = None) -> Path:
    """Run (or resume) the stage in `run_dir`; returns the final model directory."""
    cfg.validate()
    run_dir = Path(run_dir)
    final = run_dir / "final"
    if (final / "config.json").is_file():
        return final
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "resolved_config.json").write_text(json.dumps(cfg.to_dict(), indent=2, sort_keys=True))
    (run_dir / "git_revision.txt").write_text(git_revision() + "\n")
    src = Path(cfg.init_from)
    device = torch.device(cfg.device)
    model, tok, info = load_smol_dir(src)
    _trainable(model, cfg)
    model.to(device)
    model.train()
    state = ObjectiveState().to(device)
    fresh = [p for n, p in model.named_parameters() if p.requires_grad and n.startswith(("cross.", "itm_head."))]
    fresh += list(state.parameters())
    ids = {id(p) for p in fresh}
    pretrained = [p for p in model.parameters() if p.requires_grad and id(p) not in ids]
    params = pretrained + fresh
    opt = torch.optim.AdamW([{"params": pretrained, "scale": 1.0},
                             {"params": fresh, "scale": cfg.new_lr / cfg.lr}],
                            lr=cfg.lr, weight_decay=cfg.weight_decay)
    ckpt_root = run_dir / "checkpoints"
    ckpt_root.mkdir(exist_ok=True)
    start, elapsed0, tokens = _resume(ckpt_root, model, state, opt)
    rows = read_pairs(Path(cfg.pairs))
    log.info("%s: %d pairs, %d trainable of %d parameters, objectives %s", cfg.name, len(rows),
             count_parameters(model, True), count_parameters(model), cfg.objectives)
    lengths = {"text": cfg.text_length, "code": cfg.code_length, "prompt": cfg.prompt_length,
               "summary": cfg.summary_length, "code_target": cfg.code_target_length,
               "match_code": cfg.match_code_length}
    metrics = MetricsLog(run_dir, cfg.steps, start)
    valid = _Validation(cfg, run_dir, tok, lengths)
    t0 = time.perf_counter() - elapsed0
    step = start
    if start == 0:
        valid.run(model, 0, src, info, time.perf_counter() - t0)
    while step < cfg.steps:
        elapsed = time.perf_counter() - t0
        if cfg.time_budget_s > 0 and elapsed >= cfg.time_budget_s:
            log.info("%s: time budget of %.0f s spent at step %d", cfg.name, cfg.time_budget_s, step)
            break
        rng = np.random.default_rng([cfg.seed, step])
        torch.manual_seed(cfg.seed * 1_000_003 + step)  # dropout depends on (seed, step) only: exact resume
        batch = [rows[i] for i in rng.choice(len(rows), size=cfg.batch_size, replace=False)]
        lr = lr_at(cfg, step, elapsed)
        for group in opt.param_groups:
            group["lr"] = lr * group["scale"]
        with autocast(device, cfg.precision):
            loss, n, parts = stage_losses(model, tok, state, batch, cfg.objectives, rng, lengths,
                                          cfg.gen_batch_size, cfg.side_batch_size or cfg.gen_batch_size)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad = torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()
        step += 1
        tokens += n
        row = metrics.record({"step": step, "loss": float(loss.detach()), "lr": lr, "tokens": n,
                              "grad_norm": float(grad), "temperature": float(1 / state.scale().detach()), **parts})
        if cfg.time_budget_s > 0:  # the budget, not the step cap, ends this stage
            row["eta_s"] = min(row["eta_s"], max(0.0, cfg.time_budget_s - (time.perf_counter() - t0)))
        if step % cfg.log_every == 0 or step == cfg.steps:
            metrics.progress(row)
        if cfg.valid_every > 0 and step % cfg.valid_every == 0:
            valid.run(model, step, src, info, time.perf_counter() - t0)
        if step % cfg.checkpoint_every == 0 or step == cfg.steps or (stop_after is not None and step - start >= stop_after):
            _save(ckpt_root, step, model, state, opt, src, info, cfg, time.perf_counter() - t0, tokens)
        if stop_after is not None and step - start >= stop_after:
            return ckpt_root / (ckpt_root / LATEST).read_text().strip()
    _save(ckpt_root, step, model, state, opt, src, info, cfg, time.perf_counter() - t0, tokens)
    if cfg.valid_every > 0 and step % cfg.valid_every != 0:
        valid.run(model, step, src, info, time.perf_counter() - t0)
    chosen = valid.load_best(model)
    tmp = run_dir / ".final-tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    _write_model(model, src, info, cfg, tmp, step, stages=list(info.get("stages", [])) + [
        {"name": cfg.name, "steps": step, "objectives": cfg.objectives, "tokens": tokens,
         "seconds": round(time.perf_counter() - t0, 1), **chosen}])
    os.replace(tmp, final)
    metrics.plot()
    log.info("%s done: %s", cfg.name, final)
    return final


class _Validation:
    """Scores the model on the validation pairs and keeps the best one in `run_dir/best`."""

    def __init__(self, cfg: SmolStageConfig, run_dir: Path, tok, lengths: dict[str, int]) -> None:
        self.cfg, self.run_dir, self.tok, self.lengths = cfg, run_dir, tok, lengths
        self.rows = sample_rows(read_pairs(Path(cfg.valid_pairs)), cfg.valid_n) if cfg.valid_every > 0 else []
        self.best_path = run_dir / "best"
        self.log_path = run_dir / "valid.jsonl"
        self.best = self._recorded_best()

    def _recorded_best(self) -> dict[str, Any] | None:
        if not (self.best_path / "config.json").is_file() or not self.log_path.is_file():
            return None
        rows = [json.loads(line) for line in self.log_path.read_text().splitlines() if line.strip()]
        rows = [r for r in rows if r.get("saved")]
        return rows[-1] if rows else None

    def run(self, model: SmolCodeT5p, step: int, src: Path, info: dict[str, Any], elapsed: float) -> None:
        if not self.rows:
            return
        t = time.perf_counter()
        scores = validate(model, self.tok, self.rows, self.lengths, self.cfg.precision, self.cfg.valid_rerank_queries)
        row: dict[str, Any] = {"step": step, "elapsed_s": round(elapsed, 1),
                               "valid_s": round(time.perf_counter() - t, 1), **scores}
        key = self.cfg.select_by
        if self.best is None or scores[key] > self.best[key]:
            tmp = self.run_dir / ".best-tmp"
            if tmp.exists():
                shutil.rmtree(tmp)
            _write_model(model, src, info, self.cfg, tmp, step, validation=scores)
            if self.best_path.exists():
                shutil.rmtree(self.best_path)
            os.replace(tmp, self.best_path)
            row["saved"] = True
            self.best = row
        with open(self.log_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
        log.info("%s validation at step %d: %s%s", self.cfg.name, step,
                 ", ".join(f"{k} {v:.4f}" for k, v in scores.items()), " (best)" if row.get("saved") else "")

    def load_best(self, model: SmolCodeT5p) -> dict[str, Any]:
        """Load the best validated parts into `model`; returns what was chosen (empty: none)."""
        if self.best is None:
            return {}
        path = self.best_path / TRAINED_FILE
        state = {k: v.to(model.device) for k, v in load_file(str(path)).items()}
        load_weights(model, state, str(path), model.trainable_prefixes())
        log.info("%s: final = the best validated model, step %d (%s %.4f)", self.cfg.name,
                 self.best["step"], self.cfg.select_by, self.best[self.cfg.select_by])
        return {"chosen_step": self.best["step"], "validation": {k: v for k, v in self.best.items()
                                                                 if k.startswith("valid_")}}
