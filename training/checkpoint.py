"""Checkpoints that carry their config and resume exactly - with no pickles.

A checkpoint is a directory `step-NNNNNNN/` holding:
- the model directory (`config.json`, `model.safetensors`, `tokenizer.json`, via
  `model.modeling.save_model_dir`), so any checkpoint can be exported or loaded directly;
- `objectives.safetensors`: objective state (momentum encoder, queues, temperature);
- `optimizer.safetensors` + `optimizer.json`: AdamW tensors and the param-group scalars;
- `trainer.safetensors` (torch/CUDA RNG states) + `trainer.json` (step, tokens, the train config).
It is written to a temporary directory and renamed, and `LATEST` names the newest one, so an
interrupted save never leaves a half checkpoint behind.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

log = logging.getLogger(__name__)

LATEST = "LATEST"


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt, or does not fit the run."""


def _load_tensors(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise CheckpointError(f"{path}: missing from checkpoint")
    try:
        return load_file(str(path))
    except Exception as exc:  # safetensors raises SafetensorError / OSError on corrupt files
        raise CheckpointError(f"{path}: corrupt checkpoint file ({exc})") from exc


def _load_json(path: Path) -> Any:
    if not path.is_file():
        raise CheckpointError(f"{path}: missing from checkpoint")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: corrupt checkpoint file ({exc})") from exc


def optimizer_to_files(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer state dict into tensors (for safetensors) and JSON scalars."""
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {"param_groups": state["param_groups"], "state": {}}
    for idx, entry in state["state"].items():
        meta: dict[str, Any] = {}
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{idx}.{key}"] = value.detach().contiguous().cpu()
            else:
                meta[key] = value
        scalars["state"][str(idx)] = meta
    return tensors, scalars


def optimizer_from_files(tensors: dict[str, torch.Tensor], scalars: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {int(k): dict(v) for k, v in scalars["state"].items()}
    for name, tensor in tensors.items():
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = tensor
    groups = []
    for group in scalars["param_groups"]:
        group = dict(group)
        if "betas" in group:
            group["betas"] = tuple(group["betas"])
        groups.append(group)
    return {"state": state, "param_groups": groups}


def save_checkpoint(ckpt_root: Path, step: int, model: Any, tokenizer: Any, objectives: torch.nn.Module,
                    optimizer: torch.optim.Optimizer, trainer_state: dict[str, Any],
                    keep: int = 2) -> Path:
    """Write checkpoint `step` atomically under `ckpt_root` and prune old ones."""
    from model.modeling import save_model_dir

    ckpt_root.mkdir(parents=True, exist_ok=True)
    final = ckpt_root / f"step-{step:07d}"
    tmp = ckpt_root / f".tmp-step-{step:07d}"
    if tmp.exists():
        shutil.rmtree(tmp)
    save_model_dir(model, tokenizer, tmp, extra={"train_config": trainer_state.get("config")})
    obj_state = {k: v.detach().contiguous().cpu() for k, v in objectives.state_dict().items()}
    save_file(obj_state, str(tmp / "objectives.safetensors"))
    opt_tensors, opt_scalars = optimizer_to_files(optimizer)
    save_file(opt_tensors, str(tmp / "optimizer.safetensors"))
    (tmp / "optimizer.json").write_text(json.dumps(opt_scalars))
    rng = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng.update({f"cuda{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())})
    save_file(rng, str(tmp / "trainer.safetensors"))
    (tmp / "trainer.json").write_text(json.dumps({**trainer_state, "step": step}, indent=2))
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    (ckpt_root / f"{LATEST}.tmp").write_text(final.name)
    os.replace(ckpt_root / f"{LATEST}.tmp", ckpt_root / LATEST)
    old = sorted(p for p in ckpt_root.glob("step-*") if p.is_dir() and p != final)
    for p in old[: max(0, len(old) - (keep - 1))]:
        shutil.rmtree(p, ignore_errors=True)
    return final


def latest_checkpoint(ckpt_root: Path) -> Path | None:
    """The checkpoint `LATEST` names, or None when the run has none yet."""
    pointer = ckpt_root / LATEST
    if not pointer.is_file():
        return None
    path = ckpt_root / pointer.read_text().strip()
    if not path.is_dir():
        raise CheckpointError(f"{pointer}: names {path.name}, which does not exist")
    return path


def load_checkpoint(path: Path, model: Any, objectives: torch.nn.Module,
                    optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Restore model, objectives, optimizer and RNG from `path`; return the trainer state."""
    from model.modeling import WEIGHTS_FILE

    trainer_state = _load_json(path / "trainer.json")
    weights = _load_tensors(path / WEIGHTS_FILE)
    missing, unexpected = model.load_state_dict(weights, strict=False)
    missing = [k for k in missing if k not in ("lm_head.weight", "encoder.embed_tokens.weight",
                                               "decoder.embed_tokens.weight")]
    if missing or unexpected:
        raise CheckpointError(f"{path / WEIGHTS_FILE}: does not fit the model "
                              f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
    obj = _load_tensors(path / "objectives.safetensors")
    try:
        objectives.load_state_dict(obj, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{path / 'objectives.safetensors'}: does not fit the objectives ({exc})") from exc
    opt_state = optimizer_from_files(_load_tensors(path / "optimizer.safetensors"),
                                     _load_json(path / "optimizer.json"))
    try:
        optimizer.load_state_dict(opt_state)
    except (ValueError, KeyError) as exc:
        raise CheckpointError(f"{path / 'optimizer.json'}: does not fit the optimizer ({exc})") from exc
    rng = _load_tensors(path / "trainer.safetensors")
    torch.set_rng_state(rng["torch"])
    cuda = [rng[k] for k in sorted(k for k in rng if k.startswith("cuda"))]
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
    log.info("resumed from %s (step %d)", path, trainer_state["step"])
    return trainer_state
