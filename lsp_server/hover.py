"""Hover: find the function/method/class under the cursor and render its card.

`resolve_target` looks at the definition under the cursor (its name or header), then at the
identifier under the cursor resolved against the file's own definitions and finally the
workspace index. `render_markdown` shows the signature, the existing docstring and the
generated summary, clearly labelled as generated. Pure functions; the model call lives in the
engine.
"""
from __future__ import annotations

from dataclasses import dataclass

from lsp_server.symbols import Symbol, extract_symbols
from lsp_server.textdoc import word_at

HOVER_KINDS = {"function", "method", "class", "constructor", "interface", "struct", "enum",
               "trait", "type"}
_FENCE = {"tsx": "tsx", "typescript": "typescript", "javascript": "javascript", "python": "python",
          "go": "go", "java": "java", "rust": "rust"}


@dataclass
class HoverTarget:
    """What the hover is about."""

    name: str
    kind: str
    container: str
    language: str
    signature: str
    docstring: str
    code: str
    hash: str
    path: str  # "" for the current document
    line: int  # definition line (0-based)
    range: tuple[int, int, int, int] | None = None  # the hovered word (line, start, line, end)

    @classmethod
    def from_symbol(cls, sym: Symbol, path: str = "") -> "HoverTarget":
        return cls(sym.name, sym.kind, sym.container, sym.language, sym.signature, sym.docstring,
                   sym.code, sym.content_hash, path, sym.start_line)

    @classmethod
    def from_row(cls, row: dict) -> "HoverTarget":
        return cls(row["name"], row["kind"], row["container"], row["language"], row["signature"],
                   row["docstring"], row["code"], row["hash"], row["path"], row["start_line"])


def resolve_target(text: str, language: str, line: int, character: int,
                   lookup=None) -> HoverTarget | None:
    """The symbol to describe at a position, or None. `lookup(name) -> list[row]` searches the index."""
    symbols = [s for s in extract_symbols(text, language) if s.kind in HOVER_KINDS]
    word = word_at(text, line, character)
    for sym in symbols:
        on_name = sym.name_line == line and sym.name_char <= character <= sym.name_end_char
        if on_name:
            target = HoverTarget.from_symbol(sym)
            target.range = (line, sym.name_char, line, sym.name_end_char)
            return target
    if word is None:
        return None
    name, start, end = word
    candidates = [s for s in symbols if s.name == name]
    if candidates:
        lines = text.split("\n")
        line_text = lines[line] if line < len(lines) else ""
        is_member = start > 0 and line_text[:start].rstrip().endswith(".")
        candidates.sort(key=lambda s: (s.kind in ("method",) != is_member, s.start_line))
        target = HoverTarget.from_symbol(candidates[0])
        target.range = (line, start, line, end)
        return target
    if lookup is not None:
        rows = [r for r in lookup(name) if r["kind"] in HOVER_KINDS]
        if rows:
            rows.sort(key=lambda r: (r["language"] != language, r["path"]))
            target = HoverTarget.from_row(rows[0])
            target.range = (line, start, line, end)
            return target
    return None


def render_markdown(target: HoverTarget, summary: str | None, note: str = "") -> str:
    """The hover card; the generated part is marked as such."""
    fence = _FENCE.get(target.language, "")
    parts = [f"```{fence}\n{target.signature or target.name}\n```"]
    where = f"{target.kind}" + (f" in `{target.container}`" if target.container else "")
    if target.path:
        where += f" · {target.path}:{target.line + 1}"
    parts.append(f"*{where}*")
    if target.docstring:
        parts.append(target.docstring)
    if summary:
        parts.append(f"---\n**Generated summary** (CodeT5+, may be wrong): {summary}")
    elif note:
        parts.append(f"---\n*{note}*")
    return "\n\n".join(parts)
