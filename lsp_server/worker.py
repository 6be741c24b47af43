"""The model worker: one thread runs every model call, interactive work first.

Completions and hovers are submitted with `INTERACTIVE` priority and overtake queued
search re-rank steps (`SEARCH`: one candidate each, so typing waits for one at most), which
overtake background batches (indexing embeddings). `submit` returns a `concurrent.futures.Future`;
cancelling it before it starts (e.g. `$/cancelRequest`) means the job never runs.

Model calls allocate and free large buffers (a prefill's attention scores, a re-rank batch);
glibc keeps much of that freed memory resident. When the queue has been empty for
`IDLE_TRIM_S` after some work, the thread hands it back (`malloc_trim`, ~3 ms), so the trim
never runs between the keystrokes of a burst of typing and the resident size stays near what
is in use (`bench/completion_latency.py`: server RSS).
"""
from __future__ import annotations

import itertools
import logging
import queue
import threading
from concurrent.futures import Future
from typing import Any, Callable

from lsp_server.memory import release_free_memory

log = logging.getLogger(__name__)

INTERACTIVE = 0
SEARCH = 1
BACKGROUND = 2
IDLE_TRIM_S = 0.25  # idle this long after a job: return freed heap memory to the OS


class ModelWorker:
    """A single daemon thread with a priority queue."""

    def __init__(self, name: str = "codet5p-model") -> None:
        self._queue: queue.PriorityQueue = queue.PriorityQueue()
        self._counter = itertools.count()
        self._closed = False
        self.trims = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., Any], *args: Any, priority: int = INTERACTIVE) -> Future:
        future: Future = Future()
        if self._closed:
            future.cancel()
            return future
        self._queue.put((priority, next(self._counter), future, fn, args))
        return future

    def pending(self) -> int:
        return self._queue.qsize()

    def _run(self) -> None:
        worked = False  # a job ran since the last trim
        while True:
            try:
                _, _, future, fn, args = self._queue.get(timeout=IDLE_TRIM_S if worked else None)
            except queue.Empty:
                release_free_memory()
                self.trims += 1
                worked = False
                continue
            if fn is None:
                return
            worked = True
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # delivered to the caller through the future
                log.debug("model job failed: %r", exc)
                future.set_exception(exc)

    def join(self, timeout: float) -> bool:
        """Wait for the thread to end (after `shutdown`); True if it did."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def shutdown(self) -> None:
        """Stop after the running job; queued jobs are cancelled (their waiters wake up)."""
        self._closed = True
        while True:
            try:
                _, _, future, _, _ = self._queue.get_nowait()
            except queue.Empty:
                break
            future.cancel()
        self._queue.put((-1, -1, Future(), None, ()))
