"""Completion logic as pure functions: context, prompt budget, single/multi-line, clean-up.

Flow: `build_context` cuts the document at the cursor; `plan_request` decides fill-in-the-middle
vs decoder-only, single vs multi-line and clips prefix/suffix to the token budget;
the runtime generates; `postprocess` trims the raw text (scope end, duplicated suffix/next line,
unbalanced closing brackets, tiny or repetitive results) and returns None when nothing useful
remains. No model, no LSP here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Literal

from lsp_server.textdoc import offset_at

OPENERS = {"(": ")", "[": "]", "{": "}"}
CLOSERS = {v: k for k, v in OPENERS.items()}
_BLOCK_OPENER = {"python": re.compile(r":\s*(#.*)?$")}
_BRACE_OPENER = re.compile(r"[{(\[]\s*(//.*)?$")


@dataclass(frozen=True)
class CompletionContext:
    """The document split at the cursor."""

    prefix: str
    suffix: str
    line_prefix: str  # text of the cursor line before the cursor
    line_suffix: str  # text of the cursor line after the cursor
    language: str | None

    @property
    def indent(self) -> str:
        return re.match(r"[ \t]*", self.line_prefix).group(0)

    @property
    def next_line(self) -> str:
        """The first non-blank line after the cursor line."""
        for line in self.suffix.split("\n")[1:]:
            if line.strip():
                return line
        return ""


@dataclass(frozen=True)
class CompletionPlan:
    """What to ask the model for."""

    prefix: str
    suffix: str
    mode: Literal["fim", "causal"]
    multiline: bool
    window_line: int = 0  # line number (in the document) where `prefix` starts


def build_context(text: str, line: int, character: int, language: str | None) -> CompletionContext:
    """Split `text` at an LSP position (UTF-16 column); raises ValueError when out of range."""
    offset = offset_at(text, line, character)
    prefix, suffix = text[:offset], text[offset:]
    line_start = prefix.rfind("\n") + 1
    line_end = suffix.find("\n")
    return CompletionContext(prefix, suffix, prefix[line_start:],
                             suffix if line_end < 0 else suffix[:line_end], language)


def opens_block(line: str, language: str | None) -> bool:
    """True when `line` ends with a block opener (`:` in Python, a bracket elsewhere)."""
    code = line.rstrip()
    if not code:
        return False
    if language == "python":
        return bool(_BLOCK_OPENER["python"].search(code)) or bool(_BRACE_OPENER.search(code))
    return bool(_BRACE_OPENER.search(code))


def is_multiline(ctx: CompletionContext, setting: str = "auto") -> bool:
    """Multi-line at the end of a block opener or on a blank line inside a fresh block."""
    if setting != "auto":
        return setting == "always"
    if ctx.line_suffix.strip(" \t)]};,:"):
        return False  # mid-line: finish this line only
    if opens_block(ctx.line_prefix, ctx.language):
        return True
    if not ctx.line_prefix.strip():
        before = ctx.prefix[: len(ctx.prefix) - len(ctx.line_prefix)].rstrip("\n").split("\n")
        previous = next((ln for ln in reversed(before) if ln.strip()), "")
        return opens_block(previous, ctx.language) or not ctx.next_line.strip()
    return False


# The prompt window starts at a line whose number is a multiple of this: while the user types,
# the window's start stays put, so the model's cache of the previous prompt can be reused
# (`model.runtime.prefix_cache`); it moves in jumps of this many lines as the prefix grows.
WINDOW_LINES = 8
# A window placed afresh holds at most this share of the token budget; the rest is room to type
# into before it has to move (a move re-reads the whole window: a cold prefill on a keystroke).
WINDOW_FILL = 0.8


def _clip_prefix(text: str, max_chars: int) -> str:
    """The last at most `max_chars` of `text`, from a line start at a line number that is a
    multiple of `WINDOW_LINES` (a hard cut when a single line is longer than that)."""
    if len(text) <= max_chars:
        return text
    lo = len(text) - max_chars
    start = text.find("\n", lo - 1) + 1  # first line start at or after lo
    if start <= 0:
        return text[lo:]
    line = text.count("\n", 0, start)
    for _ in range(-line % WINDOW_LINES):
        nxt = text.find("\n", start) + 1
        if nxt <= 0:
            return text[start:]
        start = nxt
    return text[start:]


def _line_start(text: str, line: int) -> int:
    """Offset where 0-based `line` starts in `text`; -1 when `text` has fewer lines."""
    at = 0
    for _ in range(line):
        at = text.find("\n", at) + 1
        if at <= 0:
            return -1
    return at


def _fits(text: str, max_tokens: int, count_tokens: Callable[[str], int] | None) -> bool:
    if len(text) > max_tokens * 16:  # no tokenizer packs more than that: skip counting
        return False
    return count_tokens(text) <= max_tokens if count_tokens is not None else len(text) <= max_tokens * 4


def _prefix_window(prefix: str, max_tokens: int, count_tokens: Callable[[str], int] | None,
                   anchor: int | None) -> str:
    """The end of `prefix` to prompt with. It starts at line `anchor` (the window of the last
    request in this document) while that still fits `max_tokens`; otherwise at a line chosen
    afresh, holding at most `WINDOW_FILL` of the budget unless the whole prefix fits."""
    if anchor is not None and anchor >= 0:
        at = _line_start(prefix, anchor)
        if at >= 0 and _fits(prefix[at:], max_tokens, count_tokens):
            return prefix[at:]
    if _fits(prefix, max_tokens, count_tokens):
        return prefix
    target = max(1, int(max_tokens * WINDOW_FILL))
    chars = target * 4
    window = _clip_prefix(prefix, chars)
    if count_tokens is not None:
        while len(window) > 64 and count_tokens(window) > target:
            chars = min(chars, len(window)) * 7 // 8
            window = _clip_prefix(prefix, chars)
    return window


def _clip_suffix(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars]
    nl = cut.rfind("\n")
    return cut[:nl] if nl > len(cut) // 2 else cut


def plan_request(ctx: CompletionContext, max_prefix_tokens: int = 384, max_suffix_tokens: int = 128,
                 multiline_setting: str = "auto",
                 count_tokens: Callable[[str], int] | None = None,
                 anchor: int | None = None) -> CompletionPlan:
    """Budgeted prompt: prefix end and suffix start, FIM only when the suffix has real code.
    `anchor`: the `window_line` of the previous plan for this document, kept while it fits."""
    prefix = _prefix_window(ctx.prefix, max_prefix_tokens, count_tokens, anchor)
    window_line = ctx.prefix.count("\n", 0, len(ctx.prefix) - len(prefix))
    suffix = _clip_suffix(ctx.suffix, max_suffix_tokens * 4)
    if count_tokens is not None:
        while len(suffix) > 64 and count_tokens(suffix) > max_suffix_tokens:
            suffix = suffix[: len(suffix) * 7 // 8]
    useful_suffix = bool(re.sub(r"[\s)\]}\"';,]", "", suffix))
    return CompletionPlan(prefix, suffix if useful_suffix else "",
                          "fim" if useful_suffix else "causal",
                          is_multiline(ctx, multiline_setting), window_line)


def _indent_width(line: str) -> int:
    return len(line.expandtabs(4)) - len(line.expandtabs(4).lstrip())


def _cut_at_scope_end(text: str, ctx: CompletionContext) -> str:
    """Stop where the completion leaves the block it started in (by indentation).

    After a block opener the body must be indented deeper than the opener line; a closing
    bracket at the opener's indentation ends the block and is kept. On a blank line the
    completion may not dedent below the cursor column.
    """
    lines = text.split("\n")
    base = _indent_width(ctx.line_prefix)
    opener = opens_block(ctx.line_prefix, ctx.language)
    out = [lines[0]]
    for line in lines[1:]:
        if line.strip():
            width = _indent_width(line)
            if opener and width <= base:
                if width == base and line.strip()[0] in CLOSERS and ctx.language != "python":
                    out.append(line)
                break
            if not opener and width < base:
                break
        out.append(line)
    return "\n".join(out).rstrip()


def _drop_duplicated_suffix(text: str, ctx: CompletionContext) -> str:
    """Remove the tail that the document already has after the cursor."""
    rest = ctx.line_suffix.strip()
    if rest and text.rstrip().endswith(rest):
        text = text.rstrip()[: -len(rest)]
    nxt = ctx.next_line.strip()
    if nxt:
        lines = text.split("\n")
        for i, line in enumerate(lines):
            if i > 0 and line.strip() == nxt:
                return "\n".join(lines[:i]).rstrip()
    return text


def _balance_closers(text: str, ctx: CompletionContext) -> str:
    """Cut at a closer that matches nothing, or that the rest of the line already provides."""
    outside: list[str] = []  # openers left unclosed in the cursor line's prefix
    for ch in ctx.line_prefix:
        if ch in OPENERS:
            outside.append(ch)
        elif ch in CLOSERS and outside and outside[-1] == CLOSERS[ch]:
            outside.pop()
    provided = ctx.line_suffix.lstrip()
    inside: list[str] = []
    for i, ch in enumerate(text):
        if ch in OPENERS:
            inside.append(ch)
        elif ch in CLOSERS:
            if inside:
                if inside[-1] != CLOSERS[ch]:
                    return text[:i].rstrip()
                inside.pop()
            elif outside and outside[-1] == CLOSERS[ch] and "\n" not in text[:i]:
                if provided.startswith(ch):
                    return text[:i].rstrip()
                outside.pop()
            elif "\n" not in text[:i]:
                return text[:i].rstrip()
    return text


def is_repetitive(text: str) -> bool:
    """A line repeated three times, or very few distinct tokens in a long result."""
    lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
    for i in range(len(lines) - 2):
        if lines[i] == lines[i + 1] == lines[i + 2]:
            return True
    if re.search(r"(\S.{0,7}?)\1{5,}", text, re.S):
        return True  # the same short piece six times in a row
    tokens = re.findall(r"\w+|[^\w\s]", text)
    return len(tokens) >= 12 and len(set(tokens)) / len(tokens) < 0.25


def postprocess(raw: str, ctx: CompletionContext, multiline: bool) -> str | None:
    """Clean a raw generation; None when nothing worth showing remains."""
    text = raw.replace("\r\n", "\n")
    if not multiline:
        text = text.split("\n", 1)[0] if ctx.line_prefix.strip() or text.strip() else text
        if not text.strip():
            return None
    else:
        if not ctx.line_prefix.strip():
            text = text.lstrip("\n")
        text = _cut_at_scope_end(text, ctx)
    text = _drop_duplicated_suffix(text, ctx)
    text = _balance_closers(text, ctx)
    text = text.rstrip()
    if is_repetitive(text):
        lines = text.split("\n")
        text = lines[0].rstrip() if len(lines) > 1 and not is_repetitive(lines[0]) else ""
    if len(text.strip()) < 2 and not re.match(r"^\s*\w$", text):
        return None
    if ctx.line_suffix.strip() and ctx.line_suffix.strip().startswith(text.strip()):
        return None  # the document already continues with exactly this
    return text
