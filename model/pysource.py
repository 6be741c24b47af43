"""Python source helpers shared by training, evaluation and the runtime (stdlib `ast` only).

`strip_docstring` gives a function's code without its docstring statement, the form the
training pairs and held-out sets use; the runtime applies it before summarising, so hover
summaries see what evaluation saw. Workspace code is only parsed, never executed.
"""
from __future__ import annotations

import ast
import textwrap


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
