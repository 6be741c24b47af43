"""The completion prompt budget (`completion.maxPrefixTokens`) reaches the runtime: a budget
above the runtime's own default keeps its window while the user types, so the prompt cache is
reused (the runtime used to cut every prompt again to its default 384 tokens from the left,
which moved the prompt's start with every keystroke)."""
from __future__ import annotations

from pathlib import Path

from lsp_server.engine import Engine
from lsp_server.options import ServerOptions

BODY = "".join(f"def helper_{i}(value, scale={i}):\n    return value * scale + {i}\n\n\n" for i in range(60))


def test_a_large_prefix_budget_keeps_the_prompt_cache(smol_bundle: Path, tmp_path: Path) -> None:
    options = ServerOptions()
    options.model.path = str(smol_bundle)
    options.model.threads = 1
    options.index.enabled = False
    options.index.cache_dir = str(tmp_path / "cache")
    options.completion.max_prefix_tokens = 1500
    options.completion.deadline_ms = 60_000
    engine = Engine(options)
    try:
        assert engine.load_model() == "ready"
        rt = engine.runtime
        assert len(rt.tokenizer.encode(BODY)) > 600  # past the runtime's default of 384
        line = BODY.count("\n")
        typed = "def total(items):\n    return sum("
        for k in range(len("def total"), len(typed) + 1, 3):
            text = BODY + typed[:k]
            last = text.split("\n")[-1]
            engine.complete(text, text.count("\n"), len(last), "python", doc="file:///b.py")
        stats = rt.prefix_cache.stats()
        assert stats["prefillTokens"] > 600  # the first prompt was read whole, not cut to 384
        # after the first request only the typed tail is prefilled
        assert stats["reusedTokens"] / (stats["reusedTokens"] + stats["prefillTokens"]) > 0.8, (stats, line)
    finally:
        engine.close()
