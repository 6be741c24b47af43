"""Parse Python source with `ast` (never executed): functions with docstrings, docstring removal,
and the standard library's file list (the project's test split).
"""
from __future__ import annotations

import ast
import logging
import sysconfig
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from model.pysource import _docstring_lines, _without_lines, strip_docstring  # noqa: F401  (re-exported)

log = logging.getLogger(__name__)

# path parts that mark tests, the IDLE app, third-party or vendored code inside the stdlib tree
STDLIB_EXCLUDED_PARTS = frozenset({
    "test", "tests", "idlelib", "site-packages", "dist-packages", "__pycache__", "_vendor",
    "vendor", "ensurepip", "turtledemo",
})


@dataclass(frozen=True)
class Function:
    """One function with its docstring; `code` is dedented and has the docstring removed."""

    path: str
    name: str
    docstring: str
    code: str
    start_line: int  # 1-based, first line of the decorators or `def`
    end_line: int


def stdlib_root() -> Path:
    """The running interpreter's standard library directory."""
    return Path(sysconfig.get_paths()["stdlib"])


def stdlib_files(root: Path | None = None) -> list[Path]:
    """Sorted `.py` files of the standard library minus tests, idlelib, site-packages, vendored code."""
    root = Path(root or stdlib_root())
    out = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        parts = set(rel.parts[:-1])
        if parts & STDLIB_EXCLUDED_PARTS or any(p.startswith("config-") for p in rel.parts[:-1]):
            continue
        if rel.name.startswith("test_") or rel.name == "conftest.py":
            continue
        out.append(path)
    return out


def read_source(path: Path) -> str | None:
    """File text if it is UTF-8 and parses as Python, else None (logged)."""
    try:
        text = path.read_text(encoding="utf-8")
        ast.parse(text)
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError) as exc:
        log.debug("skipping %s: %s", path, exc)
        return None
    return text


def iter_functions(path: Path, text: str) -> Iterator[Function]:
    """Every (async) function in `text` that has a docstring, in source order."""
    tree = ast.parse(text)
    lines = text.splitlines(keepends=True)
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        doc = ast.get_docstring(node, clean=True)
        span = _docstring_lines(node)
        if not doc or span is None or node.end_lineno is None:
            continue
        start = min([node.lineno] + [d.lineno for d in node.decorator_list])
        seg = lines[start - 1:node.end_lineno]
        if seg and lines[span[0] - 1][:node.body[0].col_offset].strip():
            continue  # docstring shares a line with other code
        seg = _without_lines(seg, span[0], span[1], start)
        code = textwrap.dedent("".join(seg))
        yield Function(str(path), node.name, doc, code, start, node.end_lineno)


def enclosing_functions(text: str) -> list[tuple[int, int]]:
    """(start, end) line spans of every function in `text`, innermost last when nested."""
    spans = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno:
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            spans.append((start, node.end_lineno))
    return sorted(spans)
