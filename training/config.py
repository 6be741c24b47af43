"""`TrainConfig`: everything one training stage needs, loadable from JSON with clear errors.

A run directory stores the resolved config (`resolved_config.json`) and every checkpoint carries
it, so a run can be resumed or audited without the command line that started it.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A training config is unreadable or has unknown / ill-typed / out-of-range values."""


@dataclass
class TrainConfig:
    """One training stage (stage1, stage2 or instruct)."""

    stage: str = "stage1"
    model: str = "tiny"  # a name in model.config.CONFIGS
    model_overrides: dict[str, Any] = field(default_factory=dict)
    init_from: str = ""  # model directory to start from ("" = fresh weights)
    tokenizer: str = ""  # tokenizer.json (required for fresh weights)
    data: str = ""  # stage1: files JSONL; stage2: pairs JSONL; instruct: instructions JSONL
    # sample kind (chunks / pairs / instructions) -> data file, for objectives whose kind is not
    # the stage's own (e.g. replaying stage-1 objectives while instruction tuning)
    data_for: dict[str, str] = field(default_factory=dict)
    objectives: dict[str, float] = field(default_factory=lambda: {"denoise": 1.0})
    objective_args: dict[str, dict[str, Any]] = field(default_factory=dict)
    mixture: str = "sample"  # "sample": one objective per micro-batch by weight; "sum": weighted sum
    steps: int = 100
    batch_size: int = 8  # per process, per micro-batch
    grad_accum: int = 1
    lr: float = 2e-4
    warmup_steps: int = 10
    weight_decay: float = 0.1
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    grad_clip: float = 1.0
    seed: int = 0
    chunk_length: int = 0  # stage-1 chunk length in tokens (0 = max_source_length - 1)
    min_chunk_length: int = 16
    checkpoint_every: int = 100
    keep_checkpoints: int = 2
    log_every: int = 10
    time_budget_s: float = 0.0  # > 0: fit the stage into this many seconds (see training.budget)
    data_workers: int = 0  # processes that build batches ahead (0 = in the training process)
    device: str = "auto"  # auto | cpu | cuda
    threads: int = 0  # torch intra-op threads (0 = leave torch's default)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<dict>") -> "TrainConfig":
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: a training config must be a JSON object")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise ConfigError(f"{source}: unknown key(s) {', '.join(unknown)}; "
                              f"known: {', '.join(sorted(fields))}")
        defaults = cls()
        for key, value in data.items():
            expected = type(getattr(defaults, key))
            ok = isinstance(value, expected) or (expected is float and isinstance(value, int)
                                                 and not isinstance(value, bool))
            if expected is int and isinstance(value, bool):
                ok = False
            if not ok:
                raise ConfigError(f"{source}: key {key!r} must be {expected.__name__}, "
                                  f"got {type(value).__name__} {value!r}")
        cfg = cls(**{k: (float(v) if type(getattr(defaults, k)) is float else v) for k, v in data.items()})
        cfg.validate(source)
        return cfg

    @classmethod
    def from_file(cls, path: str | Path) -> "TrainConfig":
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read training config ({exc.strerror})") from exc
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: not valid JSON ({exc})") from exc
        return cls.from_dict(data, str(path))

    def validate(self, source: str = "<config>") -> None:
        from model.config import CONFIGS
        from training.objectives import REGISTRY

        def bad(msg: str) -> ConfigError:
            return ConfigError(f"{source}: {msg}")

        if self.model not in CONFIGS:
            raise bad(f"unknown model {self.model!r}; known: {', '.join(sorted(CONFIGS))}")
        if not self.objectives:
            raise bad("objectives is empty")
        for name, weight in self.objectives.items():
            if name not in REGISTRY:
                raise bad(f"unknown objective {name!r}; known: {', '.join(sorted(REGISTRY))}")
            if not isinstance(weight, (int, float)) or weight < 0:
                raise bad(f"objective {name!r} weight must be a number >= 0, got {weight!r}")
        if sum(self.objectives.values()) <= 0:
            raise bad("objective weights sum to 0")
        for kind in self.data_for:
            if kind not in ("chunks", "pairs", "instructions"):
                raise bad(f"data_for: unknown sample kind {kind!r}; known: chunks, instructions, pairs")
        for name in self.objective_args:
            if name not in self.objectives:
                raise bad(f"objective_args names {name!r}, which is not in objectives")
        if self.mixture not in ("sample", "sum"):
            raise bad(f"mixture must be 'sample' or 'sum', got {self.mixture!r}")
        for key in ("steps", "batch_size", "grad_accum", "checkpoint_every", "log_every",
                    "keep_checkpoints"):
            if getattr(self, key) < 1:
                raise bad(f"{key} must be >= 1, got {getattr(self, key)}")
        if self.lr <= 0 or self.warmup_steps < 0:
            raise bad("lr must be > 0 and warmup_steps >= 0")
        if self.time_budget_s < 0 or self.data_workers < 0:
            raise bad("time_budget_s and data_workers must be >= 0")
        if len(self.betas) != 2:
            raise bad("betas must have two numbers")
        if self.device not in ("auto", "cpu", "cuda"):
            raise bad(f"device must be auto, cpu or cuda, got {self.device!r}")
        if not self.init_from and not self.tokenizer:
            raise bad("set tokenizer (fresh weights) or init_from (a model directory)")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)
