"""`kill -9` of a real server at a random point of indexing, then a restart: the index must
open, hold no partly indexed file, no lost or duplicated symbol, and after the restart's scan
equal a fresh index of the same tree (`index_check`)."""
from __future__ import annotations

import random
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from lsp_server.engine import index_path
from tests.support.index_check import Snapshot, problems, snapshot
from tests.support.raw_client import RawClient


@dataclass
class KillTrial:
    delay_s: float
    mid_indexing: bool  # the kill landed before the scan and embedding had finished
    files_at_kill: int
    problems_at_kill: list[str] = field(default_factory=list)
    problems_after_restart: list[str] = field(default_factory=list)
    restart_s: float = 0.0

    @property
    def consistent(self) -> bool:
        return not self.problems_at_kill and not self.problems_after_restart


def kill9_trials(root: Path, fresh: Snapshot, options: dict, work: Path, trials: int,
                 seed: int = 0, timeout: float = 300) -> list[KillTrial]:
    """`trials` rounds: fresh cache, start, kill -9 after a random delay into indexing,
    check, restart on the same cache, wait for its scan, check again."""
    rng = random.Random(seed)
    cache = Path(options["index"]["cacheDir"])
    estimate = _full_index_seconds(root, options, work, timeout)
    out = []
    for i in range(trials):
        shutil.rmtree(cache, ignore_errors=True)
        client = RawClient(work / f"kill{i}-a.log")
        client.initialize(root, options)
        client.wait_until(lambda c: c.indexing(), timeout)
        delay = rng.uniform(0.02, 0.95) * estimate
        time.sleep(delay)
        mid = not client.indexed()
        client.kill()
        db = index_path(root, str(cache))
        trial = KillTrial(delay_s=round(delay, 2), mid_indexing=mid, files_at_kill=0)
        if db.exists():
            snap = snapshot(db)
            trial.files_at_kill = len(snap.files)
            trial.problems_at_kill = problems(snap, fresh, partial=True)
        t0 = time.monotonic()
        client = RawClient(work / f"kill{i}-b.log")
        client.initialize(root, options)
        client.wait_until(lambda c: c.indexed(), timeout)
        trial.restart_s = round(time.monotonic() - t0, 2)
        client.close()
        trial.problems_after_restart = problems(snapshot(db), fresh)
        out.append(trial)
    return out


def _full_index_seconds(root: Path, options: dict, work: Path, timeout: float) -> float:
    """How long a scan plus embedding from an empty cache takes (the window kills aim at)."""
    shutil.rmtree(options["index"]["cacheDir"], ignore_errors=True)
    client = RawClient(work / "kill-calibration.log")
    client.initialize(root, options)
    client.wait_until(lambda c: c.indexing(), timeout)
    t0 = time.monotonic()
    client.wait_until(lambda c: c.indexed(), timeout)
    seconds = time.monotonic() - t0
    client.close()
    return seconds
