"""kill -9 during indexing, then restart: the SQLite index is never left inconsistent."""
from __future__ import annotations

from pathlib import Path

from tests.support.index_check import fresh_snapshot
from tests.support.kill9 import kill9_trials
from tests.support.trees import make_tree

TRIALS = 3  # bench/stress.py runs 25


def test_kill9_during_indexing_never_loses_or_duplicates_a_symbol(tmp_path: Path, tiny_bundle: Path,
                                                                    stress_options) -> None:
    root = make_tree(tmp_path / "ws", 300)
    fresh = fresh_snapshot(root, tmp_path / "fresh-cache")
    assert len(fresh.files) == 300 and fresh.symbol_rows > 900
    trials = kill9_trials(root, fresh, stress_options(tiny_bundle, tmp_path / "cache"), tmp_path, TRIALS, seed=1)
    assert len(trials) == TRIALS
    assert [t for t in trials if not t.consistent] == []
    assert any(t.mid_indexing for t in trials), [t.delay_s for t in trials]
