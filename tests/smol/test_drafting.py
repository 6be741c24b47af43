"""Prompt-lookup drafting: the guesses, and decoding with them gives the tokens greedy gives alone."""
from __future__ import annotations

from pathlib import Path

import pytest

from model.runtime import GenerationConfig
from model.runtime.draft import lookup_draft
from model.runtime.smol_runtime import SmolRuntime

REPETITIVE = ("def area(self):\n    return self.width * self.height\n\n"
              "def perimeter(self):\n    return 2 * (self.width + self.height)\n\n"
              "def scaled(self, k):\n    return Rect(self.width * k, self.height * k)\n\n"
              "def area(self):\n    return self.")


def prompt_lookup(seq: list[int], **kw) -> list[int]:
    """The guess alone."""
    return lookup_draft(seq, **kw)[0]


def test_lookup_takes_what_followed_the_latest_longest_match() -> None:
    seq = [1, 2, 3, 9, 9, 1, 2, 3, 7, 8, 5, 1, 2, 3]
    assert prompt_lookup(seq, draft_tokens=3) == [7, 8, 5]  # the latest [1, 2, 3] before the end
    assert prompt_lookup([5, 6, 7, 5, 6], max_ngram=3, min_ngram=2, draft_tokens=4) == [7, 5, 6]
    assert prompt_lookup([1, 2, 3, 4], draft_tokens=4) == []  # the last bigram never came before
    assert prompt_lookup([1, 2, 1, 2], draft_tokens=0) == []
    assert prompt_lookup([4, 4], draft_tokens=3) == []  # too short for a bigram and a follower
    # the match must leave at least one token after it
    assert prompt_lookup([3, 4, 3, 4], min_ngram=2, draft_tokens=5) == [3, 4]


def test_lookup_searches_only_the_window() -> None:
    seq = [1, 2, 42] + [0] * 50 + [1, 2]
    assert prompt_lookup(seq, draft_tokens=1) == [42]
    assert prompt_lookup(seq, draft_tokens=1, window=20) == []


def test_lookup_prefers_the_previous_requests_tail() -> None:
    """`recent` (what the last request saw and generated past the shared prefix) is searched
    before the prompt for an n-gram of the same length; a longer match in the prompt still wins."""
    seq = [1, 2, 30, 31, 9, 1, 2]
    assert prompt_lookup(seq, draft_tokens=2) == [30, 31]
    assert prompt_lookup(seq, draft_tokens=2, recent=[5, 1, 2, 40, 41, 42]) == [40, 41]
    assert lookup_draft(seq, draft_tokens=2, recent=[5, 1, 2, 40, 41, 42]) == ([40, 41], True)
    assert lookup_draft(seq, draft_tokens=2, recent=[7, 7]) == ([30, 31], False)
    # the trigram [9, 1, 2] is only in the prompt: it beats the bigram in `recent`
    assert prompt_lookup([9, 1, 2, 30, 5, 9, 1, 2], draft_tokens=2, recent=[1, 2, 40]) == [30, 5]
    # a match at the very end of `recent` has no follower there: the prompt is searched
    assert prompt_lookup(seq, draft_tokens=2, recent=[7, 1, 2]) == [30, 31]
    assert prompt_lookup([3, 4], draft_tokens=2, recent=[3, 4, 5]) == []  # no bigram with a follower in seq...
    assert prompt_lookup([8, 3, 4], draft_tokens=2, recent=[3, 4, 5]) == [5]  # ...but a longer seq finds it


@pytest.fixture
def rt(fp32_bundle: Path) -> SmolRuntime:
    return SmolRuntime.load(fp32_bundle, threads=1)


@pytest.mark.parametrize("cache_key", [None, "file:///r.py"])
def test_drafting_gives_the_tokens_of_plain_greedy(rt: SmolRuntime, cache_key: str | None) -> None:
    prompts = [REPETITIVE, REPETITIVE[:-20], "x = [1, 2, 3, 1, 2, 3, 1, 2", "import os\n"]
    for prompt in prompts:
        for max_new in (1, 5, 40):
            plain = rt.complete(prompt, "", GenerationConfig(max_new_tokens=max_new, draft_tokens=0))
            drafted = rt.complete(prompt, "", GenerationConfig(max_new_tokens=max_new, draft_tokens=6),
                                  cache_key=cache_key)
            assert drafted.token_ids == plain.token_ids and drafted.text == plain.text, (prompt, max_new)
            assert drafted.stop_reason == plain.stop_reason
            assert len(drafted.token_ids) <= max_new
    stats = rt.draft_stats.as_dict()
    assert stats["calls"] > 0 and stats["proposed"] >= stats["accepted"]


def test_drafting_with_stops_matches_plain_greedy(rt: SmolRuntime) -> None:
    for prompt in (REPETITIVE, "a = 1\nb = 2\na = 1\nb = "):
        plain = rt.complete(prompt, "", GenerationConfig(max_new_tokens=24, stop_at_newline=True, draft_tokens=0))
        drafted = rt.complete(prompt, "", GenerationConfig(max_new_tokens=24, stop_at_newline=True))
        assert drafted.token_ids == plain.token_ids and drafted.text == plain.text


def test_cache_after_drafting_holds_only_checked_tokens(rt: SmolRuntime) -> None:
    """A wrong guess's keys/values never reach the prompt cache: the next request reuses the
    cache and still gets plain greedy's tokens."""
    key = "file:///c.py"
    rt.complete(REPETITIVE, "", GenerationConfig(max_new_tokens=12), cache_key=key)
    entry = rt.prefix_cache._entries[key]
    assert entry.buf.length == len(entry.ids) and all(k.shape[2] == len(entry.ids) for k, _ in entry.buf.views())
    nxt = REPETITIVE + "width"
    again = rt.complete(nxt, "", GenerationConfig(max_new_tokens=12), cache_key=key)
    plain = rt.complete(nxt, "", GenerationConfig(max_new_tokens=12, draft_tokens=0))
    assert again.token_ids == plain.token_ids


def test_traced_graph_decodes_without_drafts(fp32_bundle: Path, smol_model_dir: Path, rt: SmolRuntime,
                                            tmp_path: Path) -> None:
    """The traced torch export (the benchmarks' baseline) has no `row_logits`: no drafts, and
    the same tokens as the fused graph."""
    import shutil

    from model.smol.export import build_decoder

    traced = tmp_path / "bundle"
    shutil.copytree(fp32_bundle, traced, ignore=shutil.ignore_patterns("decoder"))
    build_decoder(traced, traced / "decoder", model_dir=smol_model_dir, weights="fp32", head="fp32", graph="traced")
    other = SmolRuntime.load(traced, threads=1)
    assert rt.graphs.has_rows and not other.graphs.has_rows
    for prompt in (REPETITIVE, "import os\n"):
        fused = rt.complete(prompt, "", GenerationConfig(max_new_tokens=16))
        plain = other.complete(prompt, "", GenerationConfig(max_new_tokens=16), cache_key="file:///t.py")
        assert plain.token_ids == fused.token_ids
    assert other.draft_stats.calls == 0


def test_a_repeated_request_is_drafted_from_its_previous_answer(rt: SmolRuntime) -> None:
    """The same prompt again in a document: the previous answer is a draft source, so more of
    the generated tokens come from accepted drafts than with the prompt alone (no cache key),
    and the tokens are plain greedy's."""
    prompt = "def read_config(path):\n    with open(path) as f:\n        return f.re"
    config = GenerationConfig(max_new_tokens=24)
    plain = rt.complete(prompt, "", GenerationConfig(max_new_tokens=24, draft_tokens=0))
    assert len(plain.token_ids) == 24

    def accepted(cache_key: str | None) -> int:
        before = rt.draft_stats.accepted
        assert rt.complete(prompt, "", config, cache_key=cache_key).token_ids == plain.token_ids
        return rt.draft_stats.accepted - before

    prompt_only = accepted(None)
    assert rt.draft_stats.previous_proposed == 0  # no cache key: nothing from a previous request
    accepted("file:///again.py")  # leaves its answer in the document's cache
    before = rt.draft_stats.previous_accepted
    with_previous = accepted("file:///again.py")
    from_previous = rt.draft_stats.previous_accepted - before
    assert from_previous > 0 and rt.draft_stats.as_dict()["fromPrevious"]["accepted"] == rt.draft_stats.previous_accepted
    # each verification call accepts at most 6 drafted tokens and adds one of its own
    assert with_previous >= 15 and with_previous >= prompt_only + 4, (with_previous, prompt_only)
