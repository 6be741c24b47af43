"""Text positions: LSP (line, UTF-16 column) <-> Python string offsets, words at a position.

Out-of-range positions raise `PositionError` with the position and the document's extent, so
handlers can answer "nothing here" and log why.
"""
from __future__ import annotations

import re


class PositionError(ValueError):
    """A position outside the document."""


_IDENT = re.compile(r"[A-Za-z_$][\w$]*")


def _utf16_to_index(line: str, character: int) -> int:
    if line.isascii():
        return character
    units = 0
    for i, ch in enumerate(line):
        if units >= character:
            return i
        units += 2 if ord(ch) > 0xFFFF else 1
    return len(line)


def offset_at(text: str, line: int, character: int) -> int:
    """String offset of an LSP position; the column may not pass the end of the line."""
    if line < 0 or character < 0:
        raise PositionError(f"negative position {line}:{character}")
    start = 0
    for _ in range(line):
        nl = text.find("\n", start)
        if nl < 0:
            raise PositionError(f"line {line} is past the end of the document ({text.count(chr(10)) + 1} lines)")
        start = nl + 1
    end = text.find("\n", start)
    content = text[start:] if end < 0 else text[start:end]
    content = content.rstrip("\r")
    width = len(content.encode("utf-16-le", "surrogatepass")) // 2
    if character > width:
        raise PositionError(f"column {character} is past the end of line {line} ({width} columns)")
    return start + _utf16_to_index(content, character)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2  # a lone surrogate is one unit


def word_at(text: str, line: int, character: int) -> tuple[str, int, int] | None:
    """(identifier, start column, end column) touching the position, or None."""
    offset = offset_at(text, line, character)
    start_of_line = text.rfind("\n", 0, offset) + 1
    end_of_line = text.find("\n", offset)
    line_text = text[start_of_line:] if end_of_line < 0 else text[start_of_line:end_of_line]
    col = offset - start_of_line
    for m in _IDENT.finditer(line_text):
        if m.start() <= col <= m.end():
            return (m.group(0), utf16_len(line_text[: m.start()]), utf16_len(line_text[: m.end()]))
    return None


def word_before(line_prefix: str) -> str:
    """The identifier characters just before the cursor (what a completion item filters on)."""
    m = re.search(r"[\w$]*$", line_prefix)
    return m.group(0) if m else ""
