"""Prefix KV-cache reuse for decoder prompts: a small per-document LRU (numpy only).

Typing sends a new completion request every few hundred milliseconds with a prompt that
differs from the last one by a few tokens at its end. `PrefixCache` keeps, per key (a document
URI), the token ids of the last prompt and the decoder's self-attention cache for them (a
`KVBuffer`); `take` hands the entry's buffer back cut to the longest common token prefix of the
new prompt with the cached one, so only the new tail is prefilled, and `put` takes it back after
generation. An entry is out of the cache while a request uses it, so a failed request loses it
rather than leaving ids that no longer describe the buffer.
`take` also hands back the entry's ids past the common prefix (the previous request's tail and
what it generated): the first place drafted decoding looks for its guesses.

The prompt is always tokenised whole, so the reused ids are exactly those of a full
tokenisation: a token boundary that moved at the edit point shows up as a differing id and
everything from it on is recomputed. Key/value rows at position i depend only on ids[0..i]
(causal attention), so reuse is exact. An entry is checked before use (one array pair per layer
of the decoder's cache type, `[1, kv_heads, capacity, head_dim]`, filled to exactly `len(ids)`,
finite values in the reused part); one that fails is dropped, never used. Memory is bounded by `max_bytes` over all
entries (their buffers' capacity; least recently used evicted first); an entry over the bound
alone is not stored.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, NamedTuple, Sequence

import numpy as np

from model.runtime.kv_buffer import KVBuffer


@dataclass
class _Entry:
    ids: list[int]
    buf: KVBuffer
    nbytes: int


class Reuse(NamedTuple):
    """What `PrefixCache.take` hands back: the reused length, the buffer cut to it (None: no
    usable entry) and the cached ids past the common prefix (the previous request's tail and
    the tokens generated after it: a draft source, see `model.runtime.draft`)."""

    reused: int
    buf: KVBuffer | None
    stale: list[int]


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of two id sequences."""
    n = min(len(a), len(b))
    if n == 0:
        return 0
    x = np.asarray(a[:n], dtype=np.int64)
    y = np.asarray(b[:n], dtype=np.int64)
    diff = np.flatnonzero(x != y)
    return int(diff[0]) if diff.size else n


class PrefixCache:
    """Thread-safe LRU of (prompt ids, KV cache) per key."""

    def __init__(self, num_layers: int, kv_heads: int, head_dim: int, max_entries: int = 8,
                 max_bytes: int = 64 << 20, dtype: Any = np.float32) -> None:
        self.num_layers, self.kv_heads, self.head_dim = num_layers, kv_heads, head_dim
        self.dtype = np.dtype(dtype)
        self.max_entries = max(0, int(max_entries))
        self.max_bytes = max(0, int(max_bytes))
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.lookups = self.hits = self.dropped = 0
        self.prefill_tokens = self.reused_tokens = 0

    # ---- checks -----------------------------------------------------------------------------
    def valid(self, ids: Sequence[int], buf: KVBuffer, finite_upto: int = 0) -> bool:
        """True when `buf` is a well-formed cache of exactly `ids` (layers, shapes, dtype, filled
        length) whose first `finite_upto` positions hold finite numbers."""
        return (isinstance(buf, KVBuffer) and buf.well_formed(self.num_layers, self.kv_heads, self.head_dim, self.dtype)
                and buf.length == len(ids) and buf.finite(min(finite_upto, len(ids))))

    # ---- use --------------------------------------------------------------------------------
    def take(self, key: str | None, ids: Sequence[int]) -> Reuse:
        """(reused length n, the entry's buffer cut to ids[:n], the entry's ids past n) for a new
        prompt `ids`, and the entry leaves the cache until `put`; (0, None, []) when there is no
        usable entry. A prompt that shares no prefix gets the buffer cut to 0 (its memory is
        reused). At least the last prompt token is left to prefill (its logits start the
        generation)."""
        with self._lock:
            self.lookups += 1
            entry = self._entries.pop(key, None) if key is not None else None
        if entry is None:
            return Reuse(0, None, [])
        n = max(0, min(common_prefix(entry.ids, ids), len(ids) - 1))
        if not self.valid(entry.ids, entry.buf, finite_upto=n):
            with self._lock:
                self.dropped += 1
            return Reuse(0, None, [])
        entry.buf.truncate(n)
        if n > 0:
            with self._lock:
                self.hits += 1
        return Reuse(n, entry.buf, entry.ids[n:])

    def put(self, key: str | None, ids: Sequence[int], buf: KVBuffer) -> bool:
        """Remember `buf` as the cache of `ids` for `key`; False when not stored (malformed
        or larger than the whole budget)."""
        if key is None or self.max_entries == 0:
            return False
        if not self.valid(ids, buf) or buf.nbytes > self.max_bytes:
            self.drop(key)
            return False
        with self._lock:
            self._entries[key] = _Entry(list(ids), buf, buf.nbytes)
            self._entries.move_to_end(key)
            while self._entries and (len(self._entries) > self.max_entries or self._bytes() > self.max_bytes):
                self._entries.popitem(last=False)
        return True

    def record(self, prefilled: int, reused: int) -> None:
        """Count one prompt: `prefilled` tokens computed, `reused` taken from the cache."""
        with self._lock:
            self.prefill_tokens += prefilled
            self.reused_tokens += reused

    def drop(self, key: str | None) -> None:
        with self._lock:
            if key is not None and self._entries.pop(key, None) is not None:
                self.dropped += 1

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _bytes(self) -> int:
        return sum(e.nbytes for e in self._entries.values())

    def stats(self) -> dict[str, Any]:
        """Entries, bytes held and the share of prompt tokens reused (for `codet5p/status`)."""
        with self._lock:
            total = self.prefill_tokens + self.reused_tokens
            return {"entries": len(self._entries), "bytes": self._bytes(), "maxBytes": self.max_bytes,
                    "lookups": self.lookups, "hits": self.hits, "dropped": self.dropped,
                    "prefillTokens": self.prefill_tokens, "reusedTokens": self.reused_tokens,
                    "reusedShare": round(self.reused_tokens / total, 4) if total else None}
