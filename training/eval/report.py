"""The result of one evaluation run and its plain-text table."""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

log = logging.getLogger(__name__)

# metric key -> column title; percentages are stored 0-100, ranks/recalls 0-1
_TITLES = {"mrr": "MRR", "r@1": "R@1", "r@5": "R@5", "r@10": "R@10", "bleu4": "BLEU-4",
           "em": "EM", "es": "ES", "pass@1": "pass@1", "pass@10": "pass@10"}


@dataclass
class TaskReport:
    """Metrics of every system (the bundle's modes and the baselines) on one data set."""

    task: str
    data: str
    n: int
    systems: dict[str, dict[str, float | None]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, name: str, metrics: dict[str, float | None], seconds: float) -> None:
        self.systems[name] = metrics
        self.seconds[name] = round(seconds, 2)
        log.info("%s / %s (n=%d, %.1fs): %s", self.task, name, self.n, seconds,
                 ", ".join(f"{k}={'n/a' if v is None else round(v, 4)}" for k, v in metrics.items()))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def table(self) -> str:
        """A fixed-width table: one row per system, one column per metric."""
        keys: list[str] = []
        for metrics in self.systems.values():
            keys += [k for k in metrics if k not in keys]
        name_w = max([len("system")] + [len(s) for s in self.systems])
        head = f"{'system':<{name_w}}  " + "  ".join(f"{_TITLES.get(k, k):>8}" for k in keys) + "    time"
        lines = [f"{self.task} on {self.data} (n={self.n})", head, "-" * len(head)]
        for name, metrics in self.systems.items():
            cells = []
            for k in keys:
                v = metrics.get(k)
                cells.append(f"{'n/a':>8}" if v is None else f"{v:>8.4f}" if k.startswith(("mrr", "r@"))
                             else f"{v:>8.2f}")
            lines.append(f"{name:<{name_w}}  " + "  ".join(cells) + f"  {self.seconds.get(name, 0):>6.1f}s")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)
