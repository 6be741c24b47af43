"""Fit a training stage into a wall-clock budget by calibrating its step count.

With `time_budget_s` > 0 a stage's `steps` is an upper bound. Steps `CALIBRATE_FROM` to
`CALIBRATE_TO` (counted from the run's start, so the first, slow CUDA steps are left out) are
timed; the stage then runs as many steps as fit in what is left of the budget, and that number
is written to `budget.json` in the run directory, so a resumed run keeps it and the run can be
repeated exactly with `steps` set to it. Calibration ends inside the warm-up (the config
requires `warmup_steps` >= `CALIBRATE_TO`), so the learning rate of every step taken before the
step count is known does not depend on it. A stage still running at `HARD_STOP` times its budget
(a machine that slowed down) ends at once, with its final model saved.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

log = logging.getLogger(__name__)

CALIBRATE_FROM = 5
CALIBRATE_TO = 25
HARD_STOP = 1.25


class StepBudget:
    """Tracks one stage's clock; `steps` is the current step count of the run."""

    def __init__(self, run_dir: Path, budget_s: float, max_steps: int, start_step: int) -> None:
        self.path = run_dir / "budget.json"
        self.budget_s = budget_s
        self.steps = max_steps
        self.start_step = start_step
        self.t0 = time.monotonic()
        self._t_from: float | None = None
        self.calibrated = budget_s <= 0
        if budget_s > 0 and self.path.is_file():
            saved = json.loads(self.path.read_text())
            self.steps = min(max_steps, int(saved["steps"]))
            self.calibrated = True

    @property
    def active(self) -> bool:
        return self.budget_s > 0

    def after_step(self, step: int, sync: callable = lambda: None) -> None:
        """Call after `step` (1-based count of finished steps); may change `self.steps`."""
        if not self.active:
            return
        done = step - self.start_step
        if not self.calibrated and done == CALIBRATE_FROM:
            sync()
            self._t_from = time.monotonic()
        elif not self.calibrated and done == CALIBRATE_TO and self._t_from is not None:
            sync()
            now = time.monotonic()
            per_step = (now - self._t_from) / (CALIBRATE_TO - CALIBRATE_FROM)
            left = self.budget_s - (now - self.t0)
            fit = step + max(0, int(left / per_step))
            self.steps = max(step, min(self.steps, fit))
            self.calibrated = True
            record = {"steps": self.steps, "seconds_per_step": per_step, "budget_s": self.budget_s,
                      "calibrated_at_step": step, "elapsed_s": now - self.t0}
            self.path.write_text(json.dumps(record, indent=2) + "\n")
            log.info("time budget %.0f s: %.3f s/step -> %d steps", self.budget_s, per_step, self.steps)
        if self.calibrated and step < self.steps and time.monotonic() - self.t0 > HARD_STOP * self.budget_s:
            log.warning("stage over %.0f%% of its %.0f s budget at step %d of %d: ending it now",
                        HARD_STOP * 100, self.budget_s, step, self.steps)
            self.steps = step
            data = json.loads(self.path.read_text()) if self.path.is_file() else {}
            data.update({"steps": step, "hard_stop": True})
            self.path.write_text(json.dumps(data, indent=2) + "\n")
