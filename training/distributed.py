"""Process-group setup for DDP under `torchrun` (gloo on CPU, nccl on CUDA); single process otherwise."""
from __future__ import annotations

import os
from typing import Any
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(device: torch.device) -> DistInfo:
    """Join the process group `torchrun` describes in the environment (no-op when absent)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def _all_reduce(value: float, info: DistInfo, op: Any) -> float:
    if not info.enabled:
        return value
    device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t, op=op)
    return float(t.item())


def all_reduce_sum(value: float, info: DistInfo) -> float:
    """The sum of `value` over all processes (the value itself without DDP)."""
    return _all_reduce(value, info, dist.ReduceOp.SUM)


def all_reduce_max(value: float, info: DistInfo) -> float:
    """The largest `value` over all processes (the value itself without DDP)."""
    return _all_reduce(value, info, dist.ReduceOp.MAX)


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def cleanup(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()
