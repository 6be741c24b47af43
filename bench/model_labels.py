"""Short, unique labels for model directories in a report (no machine paths).

`model_labels([.../A/runs/stage1/final, .../B/runs/stage1/final])` gives
`["A/runs/stage1/final", "B/runs/stage1/final"]`: each label is the shortest path suffix that
no other directory shares, so `final` directories of different runs stay apart.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence


def model_labels(directories: Sequence[Path]) -> list[str]:
    parts = [Path(d).resolve().parts for d in directories]
    labels = []
    for i, p in enumerate(parts):
        for n in range(1, len(p) + 1):
            label = "/".join(p[-n:])
            if all(j == i or "/".join(q[-n:]) != label for j, q in enumerate(parts)):
                break
        labels.append(label)
    return labels
