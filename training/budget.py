"""The learning-rate schedule, and fitting a training stage into a wall-clock budget.

With `time_budget_s` > 0 a stage's `steps` is only an upper bound. After the step-based warm-up,
the learning rate decays linearly with *time* and reaches 0 when the budget is spent, which ends
the stage. A step count calibrated once would be wrong as soon as the machine's load changes (as
it does when other runs share the GPU); a clock-driven decay always ends on time and always
decays fully. The number of steps taken, the warm-up time and the mean step time are written to
`budget.json` in the run directory, so the run can be repeated with a fixed `steps` of that
size. An interrupted budgeted stage that resumes from a checkpoint gets the whole budget again.
Under DDP every reading of the clock is agreed between the processes (`agree`, the maximum), so
all ranks use the same learning rate and stop at the same step.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger(__name__)


def lr_at(step: int, config: Any, total: int | None = None) -> float:
    """Linear warm-up to `lr` over `warmup_steps`, then linear decay to 0 at `total` steps
    (default `config.steps`)."""
    total = config.steps if total is None else total
    if config.warmup_steps and step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    remaining = total - step
    return config.lr * max(0.0, remaining / max(1, total - config.warmup_steps))


class StepBudget:
    """The step count and learning rate of one stage; `steps` shrinks to the step at which the
    budget ran out."""

    def __init__(self, run_dir: Path, budget_s: float, max_steps: int, start_step: int,
                 agree: Callable[[float], float] | None = None) -> None:
        self.path = run_dir / "budget.json"
        self.budget_s = budget_s
        self.steps = max_steps
        self.start_step = start_step
        self.t0 = time.monotonic()
        self.t_warm: float | None = None
        self.agree = agree

    @property
    def active(self) -> bool:
        return self.budget_s > 0

    def elapsed(self) -> float:
        local = time.monotonic() - self.t0
        return self.agree(local) if self.agree is not None else local

    def lr(self, step: int, config: Any) -> float:
        """Learning rate of `step`: `lr_at(step, config, steps)` without a budget; with one, the
        same warm-up, then linear decay to 0 at the budget's end."""
        if not self.active or (config.warmup_steps and step < config.warmup_steps):
            return lr_at(step, config, self.steps)
        if self.t_warm is None:
            self.t_warm = self.elapsed()
        span = max(1e-6, self.budget_s - self.t_warm)
        return config.lr * max(0.0, (self.budget_s - self.elapsed()) / span)

    def after_step(self, step: int, sync: Callable[[], None] = lambda: None) -> None:
        """Call after `step` (count of finished steps); ends the stage once the budget is spent."""
        if not self.active or step >= self.steps:
            return
        if self.elapsed() >= self.budget_s:
            sync()
            elapsed = self.elapsed()
            self.steps = step
            record = {"steps": step, "budget_s": self.budget_s, "elapsed_s": elapsed,
                      "warmup_s": self.t_warm, "start_step": self.start_step,
                      "seconds_per_step": elapsed / max(1, step - self.start_step)}
            self.path.write_text(json.dumps(record, indent=2) + "\n")
            log.info("time budget %.0f s spent: %d steps (%.3f s/step)", self.budget_s, step,
                     record["seconds_per_step"])
