"""Run bookkeeping: metrics JSONL, loss-curve PNG, progress lines with tokens/s and ETA, git revision."""
from __future__ import annotations

import json
import logging
import subprocess
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def git_revision(repo: Path | None = None) -> str:
    """`HEAD` commit (+ `-dirty` when the tree has changes), or `unknown` outside git."""
    cwd = str(repo or Path(__file__).resolve().parents[1])
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return rev + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def format_seconds(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class MetricsLog:
    """Appends one JSON object per step to `metrics.jsonl` and reports progress."""

    def __init__(self, run_dir: Path, total_steps: int, start_step: int, enabled: bool = True) -> None:
        self.path = run_dir / "metrics.jsonl"
        self.png = run_dir / "loss.png"
        self.total = total_steps
        self.start_step = start_step
        self.enabled = enabled
        self.t0 = time.perf_counter()
        self.cpu0 = time.process_time()
        self.tokens = 0.0

    def record(self, row: dict[str, Any]) -> dict[str, Any]:
        """Add throughput/ETA to `row` (needs `step` and `tokens`) and append it."""
        self.tokens += row["tokens"]
        elapsed = time.perf_counter() - self.t0
        done = row["step"] - self.start_step
        row["tokens_per_s"] = self.tokens / elapsed if elapsed > 0 else 0.0
        row["elapsed_s"] = elapsed
        row["cpu_s"] = time.process_time() - self.cpu0  # all threads: load-independent cost
        row["eta_s"] = elapsed / done * (self.total - row["step"]) if done > 0 else 0.0
        if self.enabled:
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(row) + "\n")
        return row

    def progress(self, row: dict[str, Any]) -> str:
        width = 20
        filled = int(width * row["step"] / max(1, self.total))
        bar = "#" * filled + "." * (width - filled)
        line = (f"[{bar}] step {row['step']}/{self.total} loss {row['loss']:.4f} "
                f"lr {row['lr']:.2e} {row['tokens_per_s']:.0f} tok/s "
                f"ETA {format_seconds(row['eta_s'])}")
        if self.enabled:
            log.info("%s", line)
        return line

    def plot(self) -> Path | None:
        """Write loss.png from metrics.jsonl (total and per-objective losses)."""
        if not self.enabled or not self.path.is_file():
            return None
        return plot_losses(self.path, self.png)


def plot_losses(metrics_path: Path, png_path: Path) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(l) for l in metrics_path.read_text().splitlines() if l.strip()]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot([r["step"] for r in rows], [r["loss"] for r in rows], label="loss", lw=1.5)
    names = sorted({k[5:] for r in rows for k in r if k.startswith("loss/")})
    for name in names:
        pts = [(r["step"], r[f"loss/{name}"]) for r in rows if f"loss/{name}" in r]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], label=name, lw=0.8, alpha=0.8)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return png_path
