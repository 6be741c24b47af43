"""Prompt KV reuse: the same tokens as a full prefill, and a bad cache is dropped, never used."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model.runtime import GenerationConfig
from model.runtime.kv_buffer import KVBuffer
from model.runtime.prefix_cache import PrefixCache, common_prefix
from model.runtime.smol_runtime import SmolRuntime

EDITS = [
    "import os\n\n\ndef read_config(path):\n    with open(path) as f:\n        return f.re",
    "import os\n\n\ndef read_config(path):\n    with open(path) as f:\n        return f.read",
    "import os\n\n\ndef read_config(path):\n    with open(path) as f:\n        return f.read()\n\n\ndef add(a, b):\n    return a",
    "import os\n\n\ndef read_config(name):\n    with open(name) as f:\n        return f.read()\n",  # edit earlier
    "import sys\n\n\ndef main():\n    ",  # a different file in the same document
]


@pytest.fixture
def rt(fp32_bundle: Path) -> SmolRuntime:
    return SmolRuntime.load(fp32_bundle, threads=1)


def test_common_prefix() -> None:
    assert common_prefix([1, 2, 3], [1, 2, 4, 5]) == 2
    assert common_prefix([1, 2], [1, 2, 3]) == 2
    assert common_prefix([], [1]) == 0 and common_prefix([7], [8]) == 0


def test_reuse_gives_the_tokens_of_a_full_prefill(rt: SmolRuntime) -> None:
    config = GenerationConfig(max_new_tokens=10)
    for prefix in EDITS:
        reused_before = rt.prefix_cache.reused_tokens
        cached = rt.complete(prefix, "", config, cache_key="file:///a.py")
        full = rt.complete(prefix, "", config)  # no key: a full prefill
        assert cached.token_ids == full.token_ids and cached.text == full.text, prefix
        assert rt.prefix_cache.reused_tokens >= reused_before
    stats = rt.prefix_cache.stats()
    assert stats["entries"] == 1 and stats["hits"] >= 2 and stats["reusedTokens"] > 0
    assert 0 < stats["bytes"] <= stats["maxBytes"]


def test_typing_reuses_most_of_the_prompt(rt: SmolRuntime) -> None:
    base = "def total(items):\n    result = 0\n    for item in items:\n        result += item.price\n    return "
    config = GenerationConfig(max_new_tokens=4)
    rt.complete(base, "", config, cache_key="k")
    before = (rt.prefix_cache.prefill_tokens, rt.prefix_cache.reused_tokens)
    for word in ("res", "resu", "resul", "result"):
        rt.complete(base + word, "", config, cache_key="k")
    prefilled = rt.prefix_cache.prefill_tokens - before[0]
    reused = rt.prefix_cache.reused_tokens - before[1]
    assert reused / (reused + prefilled) >= 0.8


def _valid_entry(rt: SmolRuntime, key: str) -> list[int]:
    rt.complete(EDITS[0], "", GenerationConfig(max_new_tokens=3), cache_key=key)
    return rt.prefix_cache._entries[key].ids


@pytest.mark.parametrize("damage", ["truncate", "nan", "layer_missing", "dtype", "length"])
def test_damaged_cache_is_dropped_not_used(rt: SmolRuntime, damage: str) -> None:
    ids = _valid_entry(rt, "k")
    buf = rt.prefix_cache._entries["k"].buf
    if damage == "truncate":
        buf.keys[0] = buf.keys[0][:, :, :-1]
    elif damage == "nan":
        buf.keys[0][0, 0, 0, 0] = np.nan
    elif damage == "layer_missing":
        buf.values.pop()
    elif damage == "dtype":
        buf.keys[0] = buf.keys[0].astype(np.float64)
    else:
        buf.length -= 1  # the filled part no longer matches the ids
    n, got, stale = rt.prefix_cache.take("k", ids + [5])
    assert (n, got, stale) == (0, None, []) and "k" not in rt.prefix_cache._entries
    assert rt.prefix_cache.dropped == 1
    # and generation still works (a full prefill), with the same result as without a key
    config = GenerationConfig(max_new_tokens=6)
    assert rt.complete(EDITS[1], "", config, cache_key="k").token_ids == rt.complete(EDITS[1], "", config).token_ids


def _buffer(layers: int, heads: int, dim: int, n: int) -> KVBuffer:
    return KVBuffer.from_past([(np.ones((1, heads, n, dim), np.float32),) * 2 for _ in range(layers)], heads, dim)


def test_oversized_cache_is_not_kept() -> None:
    cache = PrefixCache(num_layers=2, kv_heads=1, head_dim=2, max_entries=4, max_bytes=5000)
    small = _buffer(2, 1, 2, 10)  # capacity 64: 4 arrays x 512 bytes
    big = _buffer(2, 1, 2, 100)  # capacity 128
    assert small.nbytes == 2048 and big.nbytes == 4096
    assert cache.put("a", list(range(10)), small)
    assert cache.put("b", list(range(100)), big)  # together over the budget: "a" is evicted
    assert list(cache._entries) == ["b"] and cache.stats()["bytes"] <= 5000
    assert not cache.put("c", list(range(300)), _buffer(2, 1, 2, 300))  # over the budget alone
    # a cache whose length does not match its ids is refused at once
    assert not cache.put("d", list(range(9)), _buffer(2, 1, 2, 10))
    assert list(cache._entries) == ["b"]


def test_cache_of_another_element_type_is_refused() -> None:
    """A float16 prompt cache (the built decoder's) never takes a float32 buffer, and the
    reverse: the graph would read the bytes as the wrong type."""
    half = PrefixCache(num_layers=2, kv_heads=1, head_dim=2, dtype=np.float16)
    assert not half.put("a", list(range(10)), _buffer(2, 1, 2, 10))
    buf16 = KVBuffer(2, 1, 2, 10, np.float16)
    buf16.length = 10
    assert half.put("a", list(range(10)), buf16) and buf16.nbytes == 4 * 64 * 2 * 2
    assert not PrefixCache(num_layers=2, kv_heads=1, head_dim=2).put("b", list(range(10)), buf16)


def test_lru_keeps_at_most_max_entries() -> None:
    cache = PrefixCache(num_layers=1, kv_heads=1, head_dim=2, max_entries=2)
    for key in "abc":
        cache.put(key, [1, 2, 3], _buffer(1, 1, 2, 3))
    assert list(cache._entries) == ["b", "c"]
    n, got, stale = cache.take("c", [1, 2, 3])
    assert n == 2 and stale == [3] and got is not None and got.views()[0][0].shape == (1, 1, 2, 2)  # the last token is prefilled
    assert list(cache._entries) == ["b"]  # in use: out of the cache until put back
    n, got, stale = cache.take("b", [9, 9])  # no common prefix: the buffer comes back empty, for reuse
    assert n == 0 and got is not None and got.length == 0 and stale == [1, 2, 3]


def test_stale_positions_past_the_length_are_never_read(rt: SmolRuntime) -> None:
    """The fused graph reads only the filled part of a shared buffer: NaN written past it (what
    a cut-back buffer holds in effect) changes nothing."""
    graphs = rt.graphs
    assert graphs.shares_buffer
    cross, emask = graphs.cross_inputs(None)
    ids = rt.pair.dec_encode(EDITS[2])
    clean = graphs.new_buffer(len(ids) + 8)
    ref = graphs.advance(ids[:-3], clean, cross, emask)
    dirty = graphs.new_buffer(len(ids) + 8)
    for a in dirty.keys + dirty.values:
        a[:] = np.nan
    out = graphs.advance(ids[:-3], dirty, cross, emask)
    np.testing.assert_array_equal(out, ref)
    ref = graphs.advance(ids[-3:], clean, cross, emask, rows=3)
    dirty.truncate(len(ids) - 4)  # cut back one position, then feed it again
    graphs.advance(ids[-4:-3], dirty, cross, emask)
    out = graphs.advance(ids[-3:], dirty, cross, emask, rows=3)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, ref, atol=1e-4)  # one position was computed alone: GEMV vs GEMM rounding


def test_buffer_steps_equal_copied_cache_steps(rt: SmolRuntime) -> None:
    """`advance` on a shared buffer gives the logits and keys/values of `step` on copied arrays,
    across a growth of the buffer."""
    graphs = rt.graphs
    cross, emask = graphs.cross_inputs(None)
    ids = rt.pair.dec_encode(EDITS[2] * 3)
    assert len(ids) > 80
    buf = graphs.new_buffer(1)  # capacity 64: grows while fed
    past = graphs.empty_past(1)
    for start, stop in ((0, 40), (40, 41), (41, 70), (70, len(ids))):
        want, past = graphs.step([ids[start:stop]], past, cross, emask)
        got = graphs.advance(ids[start:stop], buf, cross, emask)
        np.testing.assert_allclose(got, want, atol=1e-5)
    assert buf.length == len(ids) and buf.capacity >= len(ids)
    for (k, v), (bk, bv) in zip(past, buf.views()):
        np.testing.assert_allclose(bk, k, atol=1e-6)
        np.testing.assert_allclose(bv, v, atol=1e-6)


def test_cache_is_bound_once_per_allocation_and_logits_are_not_aliased(rt: SmolRuntime) -> None:
    """`advance` binds a buffer's cache once (a new binding only when the buffer grows), and the
    logits it returns stay as they were after later calls (its output rows are reused)."""
    graphs = rt.graphs
    cross, emask = graphs.cross_inputs(None)
    ids = rt.pair.dec_encode(EDITS[2] * 4)
    buf = graphs.new_buffer(6)
    assert len(ids) > buf.capacity
    first = graphs.advance(ids[:5], buf, cross, emask)
    kept = first.copy()
    binding = buf.binding(graphs.decoder)
    graphs.advance(ids[5:6], buf, cross, emask)
    assert buf.binding(graphs.decoder) is binding
    graphs.advance(ids[6:], buf, cross, emask, rows=3)  # grows the buffer
    assert buf.binding(graphs.decoder) is not binding
    np.testing.assert_array_equal(first, kept)
    full = graphs.new_buffer(len(ids))
    np.testing.assert_allclose(graphs.advance(ids, full, cross, emask, rows=3),
                               _rows_again(graphs, ids, cross, emask), atol=1e-5)


def _rows_again(graphs, ids, cross, emask) -> np.ndarray:
    buf = graphs.new_buffer(4)
    graphs.advance(ids[:-3], buf, cross, emask)
    return graphs.advance(ids[-3:], buf, cross, emask, rows=3)
