"""The model worker hands freed heap memory back once it has been idle after work, never
between the jobs of a burst."""
from __future__ import annotations

import time

import pytest


def test_worker_trims_once_idle_after_work(monkeypatch: pytest.MonkeyPatch) -> None:
    import lsp_server.worker as worker_module

    calls: list[float] = []
    monkeypatch.setattr(worker_module, "release_free_memory", lambda: calls.append(time.monotonic()) or True)
    worker = worker_module.ModelWorker()
    try:
        time.sleep(3 * worker_module.IDLE_TRIM_S)
        assert calls == []  # no work yet: nothing to trim
        done: list[float] = []
        for _ in range(5):  # a burst: each job queued before the previous one's idle time is up
            worker.submit(lambda: done.append(time.monotonic())).result(timeout=5)
            time.sleep(worker_module.IDLE_TRIM_S / 10)
        assert calls == []
        time.sleep(3 * worker_module.IDLE_TRIM_S)
        assert len(calls) == 1 and calls[0] - done[-1] >= worker_module.IDLE_TRIM_S * 0.9
        assert worker.trims == 1
        time.sleep(2 * worker_module.IDLE_TRIM_S)
        assert len(calls) == 1  # idle without new work: no second trim
        assert worker.submit(lambda: 42).result(timeout=5) == 42  # still serving after a trim
    finally:
        worker.shutdown()
