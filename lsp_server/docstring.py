"""The "Generate docstring" code action: where a docstring goes and how it is written.

Python gets a triple-quoted docstring as the first body statement; JavaScript/TypeScript get a
JSDoc block (with `@param` tags) above the definition, Java a Javadoc block, Go `//` and Rust
`///` comments. `docstring_edit` returns (line, character, text) to insert, or None when the
symbol already has documentation or its body shares the header line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from lsp_server.store import identifier_words
from lsp_server.symbols import Symbol, extract_symbols, symbol_at
from lsp_server.textdoc import offset_at

DOC_KINDS = {"function", "method", "class", "constructor", "interface", "struct", "enum"}


@dataclass(frozen=True)
class Insertion:
    line: int
    character: int
    text: str


def documentable_symbol(text: str, language: str, line: int, character: int) -> Symbol | None:
    """The innermost function/class at the position that has no docstring yet.

    Raises PositionError for a position outside the document."""
    offset_at(text, line, character)
    symbols = [s for s in extract_symbols(text, language) if s.kind in DOC_KINDS]
    sym = symbol_at(symbols, line, character)
    if sym is None or sym.docstring:
        return None
    return sym


def fallback_summary(sym: Symbol) -> str:
    """A plain sentence from the name, used when the model gives nothing usable."""
    words = identifier_words(sym.name) or sym.name
    return words[:1].upper() + words[1:] + "."


def clean_summary(text: str) -> str:
    """One tidy sentence: no quotes or comment markers that would break the docstring."""
    text = re.sub(r"\s+", " ", text.replace('"""', "").replace("*/", "")).strip()
    if text and text[-1] not in ".!?":
        text += "."
    return text[:1].upper() + text[1:]


def _params(signature: str) -> list[str]:
    m = re.search(r"\((.*)\)", signature)
    if not m:
        return []
    names = []
    for part in m.group(1).split(","):
        part = re.sub(r"[:=].*", "", part).strip().lstrip(".").strip()
        part = part.split()[-1] if part.split() else ""
        if re.match(r"^[A-Za-z_$][\w$]*$", part) and part not in ("self", "cls", "this"):
            names.append(part)
    return names


def docstring_edit(sym: Symbol, lines: list[str], summary: str) -> Insertion | None:
    """Where and what to insert for `sym` in a document split into `lines`."""
    summary = clean_summary(summary) or fallback_summary(sym)
    header = lines[sym.start_line] if sym.start_line < len(lines) else ""
    indent = re.match(r"[ \t]*", header).group(0)
    if sym.language == "python":
        if sym.body_line < 0 or sym.body_line == sym.name_line or sym.body_line >= len(lines):
            return None
        body_indent = re.match(r"[ \t]*", lines[sym.body_line]).group(0) or indent + "    "
        return Insertion(sym.body_line, 0, f'{body_indent}"""{summary}"""\n')
    if sym.language in ("javascript", "typescript", "tsx", "java"):
        block = [f"{indent}/**", f"{indent} * {summary}"]
        if sym.kind in ("function", "method", "constructor"):
            block += [f"{indent} * @param {p}" for p in _params(sym.signature)]
        block.append(f"{indent} */")
        return Insertion(sym.start_line, 0, "\n".join(block) + "\n")
    if sym.language == "go":
        return Insertion(sym.start_line, 0, f"{indent}// {sym.name} {summary[:1].lower()}{summary[1:]}\n")
    if sym.language == "rust":
        return Insertion(sym.start_line, 0, f"{indent}/// {summary}\n")
    return None
