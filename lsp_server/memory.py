"""Give freed heap memory back to the operating system after a large load (glibc only).

Loading the index's vectors allocates and frees many small objects (row tuples, blobs, per-row
bookkeeping). glibc keeps such freed memory in its heap arenas, so the server's resident size
stays near the load's peak (`bench/completion_latency.py` with the standard library indexed:
803 MB before this and the chunked load, 684-723 MB after). `malloc_trim(0)` returns the free pages; elsewhere (macOS, musl, Windows) this is a
no-op.
"""
from __future__ import annotations

import ctypes
import logging

log = logging.getLogger(__name__)
_trim = None
_looked = False


def release_free_memory() -> bool:
    """Return freed heap pages to the OS; False where the C library has no `malloc_trim`."""
    global _trim, _looked
    if not _looked:
        _looked = True
        try:  # the symbols already in the process (no `find_library`: it runs /sbin/ldconfig)
            _trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
        except (OSError, TypeError, AttributeError) as exc:
            log.debug("no malloc_trim: %s", exc)
    if _trim is None:
        return False
    _trim(0)
    return True
