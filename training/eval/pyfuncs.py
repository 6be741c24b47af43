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


def _docstring_lines(node: ast.AST) -> tuple[int, int] | None:
    body = getattr(node, "body", None)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        return body[0].lineno, body[0].end_lineno or body[0].lineno
    return None


def _without_lines(lines: list[str], first: int, last: int, start: int) -> list[str]:
    """Drop source lines first..last (1-based, absolute) from `lines` that start at line `start`."""
    return lines[:first - start] + lines[last - start + 1:]


def strip_docstring(code: str) -> str:
    """Code of a function with its docstring statement removed (unchanged if it does not parse)."""
    src = textwrap.dedent(code)
    try:
        tree = ast.parse(src)
    except (SyntaxError, ValueError):
        return code
    funcs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    if not funcs:
        return code
    span = _docstring_lines(funcs[0])
    if span is None:
        return src
    lines = src.splitlines(keepends=True)
    first, last = span
    # only whole-line docstrings are removed; `def f(): "doc"; x` stays as is
    if lines[first - 1][:funcs[0].body[0].col_offset].strip():
        return src
    return "".join(_without_lines(lines, first, last, 1))


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
