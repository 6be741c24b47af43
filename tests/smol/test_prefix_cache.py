"""Prompt KV reuse: the same tokens as a full prefill, and a bad cache is dropped, never used."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model.runtime import GenerationConfig
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


@pytest.mark.parametrize("damage", ["truncate", "nan", "layer_missing", "dtype"])
def test_damaged_cache_is_dropped_not_used(rt: SmolRuntime, damage: str) -> None:
    ids = _valid_entry(rt, "k")
    entry = rt.prefix_cache._entries["k"]
    k, v = entry.past[0]
    if damage == "truncate":
        entry.past[0] = (k[:, :, :-1], v)
    elif damage == "nan":
        k = k.copy()
        k[0, 0, 0, 0] = np.nan
        entry.past[0] = (k, v)
    elif damage == "layer_missing":
        entry.past.pop()
    else:
        entry.past[0] = (k.astype(np.float64), v)
    n, past = rt.prefix_cache.take("k", ids + [5])
    assert (n, past) == (0, None) and "k" not in rt.prefix_cache._entries
    assert rt.prefix_cache.dropped == 1
    # and generation still works (a full prefill), with the same result as without a key
    config = GenerationConfig(max_new_tokens=6)
    assert rt.complete(EDITS[1], "", config, cache_key="k").token_ids == rt.complete(EDITS[1], "", config).token_ids


def test_oversized_cache_is_not_kept() -> None:
    cache = PrefixCache(num_layers=2, kv_heads=1, head_dim=4, max_entries=4, max_bytes=1000)
    small = [(np.zeros((1, 1, 10, 4), np.float32),) * 2 for _ in range(2)]  # 640 bytes
    big = [(np.zeros((1, 1, 100, 4), np.float32),) * 2 for _ in range(2)]
    assert cache.put("a", list(range(10)), small)
    assert not cache.put("b", list(range(100)), big)
    assert cache.stats()["entries"] == 1
    assert cache.put("c", list(range(10)), small)  # the budget holds one: "a" is evicted
    assert list(cache._entries) == ["c"] and cache.stats()["bytes"] <= 1000
    # a cache whose length does not match its ids is refused at once
    assert not cache.put("d", list(range(9)), small)


def test_lru_keeps_at_most_max_entries() -> None:
    cache = PrefixCache(num_layers=1, kv_heads=1, head_dim=2, max_entries=2)
    past = [(np.zeros((1, 1, 3, 2), np.float32),) * 2]
    for key in "abc":
        cache.put(key, [1, 2, 3], past)
    assert list(cache._entries) == ["b", "c"]
    n, got = cache.take("c", [1, 2, 3])
    assert n == 2 and got is not None and got[0][0].shape == (1, 1, 2, 2)  # the last token is prefilled
