"""Micro-batch construction for the training loop, in-process or prefetched by worker processes.

What a micro-batch holds depends only on (seed, step, global micro-batch index): which objective
(drawn by weight under the `sample` mixture, all of them under `sum`), which samples (a fresh
permutation of each dataset per epoch) and the objective's own randomness (span masks, FIM
splits). So the batches are the same whether they are built here or by `BatchPrefetcher`'s
forked workers, and a resumed run sees exactly the batches the interrupted one would have.

Workers return numpy arrays (pickled by value: no shared-memory file descriptors); a worker pool
that stops answering is torn down and the loop carries on building batches in-process.
"""
from __future__ import annotations

import collections
import logging
import multiprocessing
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch

log = logging.getLogger(__name__)

MicroBatch = tuple[list[str], dict[str, dict[str, np.ndarray]]]


class SampleOrder:
    """Position p of the sample stream -> dataset index, a fresh permutation per epoch."""

    def __init__(self, size: int, seed: int) -> None:
        self.size, self.seed = size, seed
        self._perms: dict[int, np.ndarray] = {}

    def __call__(self, position: int) -> int:
        epoch, offset = divmod(position, self.size)
        if epoch not in self._perms:
            if len(self._perms) > 2:
                self._perms.clear()
            self._perms[epoch] = np.random.default_rng([self.seed, epoch]).permutation(self.size)
        return int(self._perms[epoch][offset])


@dataclass
class BatchPlan:
    """Everything needed to build micro-batch (step, g) of a run."""

    weights: dict[str, float]  # objective name -> weight, in config order
    mixture: str
    seed: int
    batch_size: int
    micro_per_step: int  # world_size * grad_accum
    objectives: Any  # name -> Objective (only `build` and `kind` are used)
    data: dict[str, Sequence[Any]]
    orders: dict[str, SampleOrder]

    def __post_init__(self) -> None:
        self.names = list(self.weights)
        self.probs = np.array([self.weights[n] for n in self.names]) / sum(self.weights.values())

    def chosen(self, step: int, g: int) -> list[str]:
        if self.mixture != "sample":
            return list(self.names)
        pick = np.random.default_rng([self.seed, step, g]).choice(len(self.names), p=self.probs)
        return [self.names[int(pick)]]

    def build(self, step: int, g: int) -> MicroBatch:
        """Micro-batch `g` (global index) of `step`: the chosen objectives and their arrays."""
        chosen = self.chosen(step, g)
        base = (step * self.micro_per_step + g) * self.batch_size
        out: dict[str, dict[str, np.ndarray]] = {}
        for name in chosen:
            obj = self.objectives[name]
            samples = [self.data[obj.kind][self.orders[obj.kind](base + j)] for j in range(self.batch_size)]
            batch = obj.build(samples, np.random.default_rng([self.seed, step, g, 1 + self.names.index(name)]))
            out[name] = {k: (t.numpy() if isinstance(t, torch.Tensor) else np.asarray(t)) for k, t in batch.items()}
        return chosen, out


def to_device(arrays: dict[str, np.ndarray], device: torch.device) -> dict[str, torch.Tensor]:
    non_blocking = device.type == "cuda"
    return {k: torch.from_numpy(np.ascontiguousarray(v)).to(device, non_blocking=non_blocking)
            for k, v in arrays.items()}


_PLAN: BatchPlan | None = None  # set in the parent before forking; inherited by the workers


def _worker_init() -> None:
    torch.set_num_threads(1)


def _worker_build(key: tuple[int, int]) -> MicroBatch:
    assert _PLAN is not None
    return _PLAN.build(*key)


class BatchPrefetcher:
    """Yields the micro-batches of `keys` in order; `workers` > 0 builds them ahead in forked
    processes (at most `lookahead` pending), 0 builds each one when it is asked for."""

    def __init__(self, plan: BatchPlan, workers: int = 0, lookahead: int = 0, timeout_s: float = 120.0) -> None:
        self.plan = plan
        self.workers = workers
        self.lookahead = lookahead or 4 * max(1, workers)
        self.timeout_s = timeout_s
        self._pool: Any = None
        if workers > 0:
            if "fork" not in multiprocessing.get_all_start_methods():
                log.warning("no fork start method here: building batches in-process")
                self.workers = 0
            else:
                global _PLAN
                _PLAN = plan
                self._pool = multiprocessing.get_context("fork").Pool(workers, initializer=_worker_init)

    def iterate(self, keys: Iterator[tuple[int, int]]) -> Iterator[MicroBatch]:
        if self._pool is None:
            for key in keys:
                yield self.plan.build(*key)
            return
        pending: collections.deque[tuple[tuple[int, int], Any]] = collections.deque()
        keys = iter(keys)
        exhausted = False
        while True:
            while not exhausted and len(pending) < self.lookahead:
                key = next(keys, None)
                if key is None:
                    exhausted = True
                    break
                pending.append((key, self._pool.apply_async(_worker_build, (key,))))
            if not pending:
                return
            key, result = pending.popleft()
            if self._pool is None:
                yield self.plan.build(*key)
                continue
            try:
                yield result.get(timeout=self.timeout_s)
            except multiprocessing.TimeoutError:
                log.warning("batch workers gave nothing for %.0f s: building batches in-process", self.timeout_s)
                self.close()
                yield self.plan.build(*key)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None


def step_keys(start_step: int, steps: Callable[[], int], micro_per_rank: int, rank: int) -> Iterator[tuple[int, int]]:
    """(step, global micro index) for this rank from `start_step` while step < steps() (the
    step count can shrink while iterating, when a time budget is spent)."""
    step = start_step
    while step < steps():
        for micro in range(micro_per_rank):
            yield step, rank * micro_per_rank + micro
        step += 1
