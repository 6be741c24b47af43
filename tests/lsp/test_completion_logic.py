"""Completion prompt planning and clean-up rules, and the LRU/type-ahead cache (pure functions)."""
from __future__ import annotations

import pytest

from lsp_server.completion import build_context, is_repetitive, plan_request, postprocess
from lsp_server.completion_cache import CompletionCache
from lsp_server.textdoc import PositionError


def run(doc: str, raw: str, language: str = "python") -> tuple[str, bool, str | None]:
    i = doc.index("|")
    text = doc.replace("|", "")
    line = text[:i].count("\n")
    col = i - (text.rfind("\n", 0, i) + 1)
    ctx = build_context(text, line, col, language)
    plan = plan_request(ctx)
    return plan.mode, plan.multiline, postprocess(raw, ctx, plan.multiline)


@pytest.mark.parametrize("doc,raw,expected", [
    # block opener: multi-line body, stops where the next top-level definition (also in the suffix) starts
    ("def add(a, b):|\n\ndef other():\n    pass\n", "\n    return a + b\n\ndef other():\n    pass",
     ("fim", True, "\n    return a + b")),
    ("def add(a, b):\n    |", "return a + b\nprint(1)\n", ("causal", True, "return a + b")),
    # mid-line: one line; the closer the document already has is not repeated
    ("x = foo(a, |)\n", "b)", ("causal", False, "b")),
    ("x = foo(a, |\n", "b)", ("causal", False, "b)")),
    # a closer that matches nothing ends the completion
    ("x = 1 + |\n", "2) * 3", ("causal", False, "2")),
    # braces: the block's own closing brace is kept, unless the next line already closes it
    ("js:function f(a) {|\n", "\n  return a;\n}\nfunction g() {}", ("causal", True, "\n  return a;\n}")),
    ("js:function f(a) {|\n}\n", "\n  return a;\n}", ("causal", True, "\n  return a;")),
    # dedent below the cursor's block ends the completion
    ("for i in range(10):\n    |\nprint(x)\n", "total += i\n    print(total)\nprint(x)",
     ("fim", True, "total += i\n    print(total)")),
    # tiny, repetitive or already-present results are dropped
    ("x = |", "foo foo foo foo foo foo foo foo foo foo foo foo foo", ("causal", False, None)),
    ("x = |", ";", ("causal", False, None)),
    ("value = |\n", "mmammammammammammamma", ("causal", False, None)),
    ("print(|)\n", ")", ("causal", True, None)),
])
def test_postprocess(doc: str, raw: str, expected: tuple) -> None:
    if doc.startswith("js:"):
        assert run(doc[3:], raw, "javascript") == expected
    else:
        assert run(doc, raw) == expected


def test_budget_keeps_prefix_end_and_suffix_start() -> None:
    text = "".join(f"line_{i} = {i}\n" for i in range(2000))
    ctx = build_context(text, 1000, 0, "python")
    plan = plan_request(ctx, max_prefix_tokens=100, max_suffix_tokens=20, count_tokens=lambda s: len(s) // 4)
    assert plan.prefix.endswith("line_999 = 999\n") and len(plan.prefix) <= 400
    assert plan.suffix.startswith("line_1000 = 1000") and len(plan.suffix) <= 80
    assert plan.mode == "fim"


def test_positions_are_checked() -> None:
    with pytest.raises(PositionError):
        build_context("a\nb\n", 5, 0, "python")
    with pytest.raises(PositionError):
        build_context("abc\n", 0, 4, "python")
    ctx = build_context("s = '😀'\n", 0, 8, "python")  # UTF-16 column after the emoji
    assert ctx.line_prefix == "s = '😀'"


def test_repetition_detector() -> None:
    assert is_repetitive("a\na\na\n") and is_repetitive("((((((((((((")
    assert not is_repetitive("        return value + 1") and not is_repetitive("x = [1, 2, 3]")


def test_lru_cache_and_type_ahead() -> None:
    cache = CompletionCache(capacity=2)
    cache.put("def f(x):\n    ", "\n", True, "return x + 1")
    assert cache.get("def f(x):\n    ", "\n", True) == (True, "return x + 1")
    assert cache.get("def f(x):\n    ret", "\n", True) == (True, "urn x + 1")  # typed into it
    assert cache.get("def f(x):\n    rex", "\n", True) == (False, None)  # diverged
    assert cache.get("def f(x):\n    return x + 1", "\n", True) == (False, None)  # fully typed
    assert cache.get("def f(x):\n    ", "\n", False) == (False, None)  # other mode
    cache.put("a", "", False, None)
    cache.put("b", "", False, "bb")
    assert cache.get("def f(x):\n    ", "\n", True)[0] is False or cache.typeahead_hits  # evicted (LRU of 2)
    assert cache.get("a", "", False) == (True, None)


def test_prompt_window_start_stays_put_while_typing() -> None:
    """The window starts on a line number that is a multiple of WINDOW_LINES, so the prompt
    grows at its end (the model reuses its cache) and moves only in jumps of whole lines."""
    from lsp_server.completion import WINDOW_LINES

    doc = "".join(f"value_{i} = compute(value_{i - 1}, {i})\n" for i in range(200))
    starts = []
    text = doc
    for ch in "result = compute(value_199, 200)\n" * 3:
        text += ch
        lines = text.split("\n")
        ctx = build_context(text, len(lines) - 1, len(lines[-1]), "python")
        plan = plan_request(ctx, max_prefix_tokens=100, count_tokens=lambda s: len(s) // 4)
        assert text.endswith(plan.prefix) and len(plan.prefix) <= 400
        start = len(text) - len(plan.prefix)
        assert start == 0 or text[start - 1] == "\n"
        assert text.count("\n", 0, start) % WINDOW_LINES == 0
        starts.append(start)
    assert len(set(starts)) <= 2  # 100 keystrokes, at most one jump of the window
    assert all(b >= a for a, b in zip(starts, starts[1:]))


def test_prompt_window_is_kept_while_it_fits_and_moves_with_room_to_type() -> None:
    """With the previous plan's `window_line` as anchor the window never moves while it fits
    the budget; a window placed afresh leaves a share of the budget for typing."""
    from lsp_server.completion import WINDOW_FILL

    count = lambda s: len(s) // 4  # noqa: E731
    doc = "".join(f"value_{i} = compute(value_{i - 1}, {i})\n" for i in range(200))
    text, anchor, starts = doc, None, []
    for ch in "result = compute(value_199, 200)\n" * 6:
        text += ch
        lines = text.split("\n")
        ctx = build_context(text, len(lines) - 1, len(lines[-1]), "python")
        plan = plan_request(ctx, max_prefix_tokens=100, count_tokens=count, anchor=anchor)
        assert text.endswith(plan.prefix) and count(plan.prefix) <= 100
        start = len(text) - len(plan.prefix)
        assert text.count("\n", 0, start) == plan.window_line and (start == 0 or text[start - 1] == "\n")
        if anchor is None or plan.window_line != anchor:  # placed afresh: room left to type
            assert count(plan.prefix) <= 100 * WINDOW_FILL
        anchor = plan.window_line
        starts.append(start)
    moves = sum(1 for a, b in zip(starts, starts[1:]) if a != b)
    assert 1 <= moves <= 3  # 198 keystrokes ~ 500 tokens of typing through a 100-token window
    # an anchor that no longer fits (or points past the text) is replaced, never used
    ctx = build_context(doc, 199, 0, "python")
    plan = plan_request(ctx, max_prefix_tokens=100, count_tokens=count, anchor=0)
    assert count(plan.prefix) <= 100 and plan.window_line > 0
    assert plan_request(ctx, max_prefix_tokens=100, count_tokens=count, anchor=10_000).prefix == plan.prefix
