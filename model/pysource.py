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


def reindent_first_line(code: str) -> str:
    """Code whose first line was cut at its column (a parser node's text: `def f():` at column 0,
    its body still at 8) with the first line put back one level above its body, so that
    `textwrap.dedent` gives a function at column 0 with a 4-space body."""
    lines = code.split("\n")
    if len(lines) < 2 or lines[0][:1].isspace():
        return code
    body = [line for line in lines[1:] if line.strip()]
    if not body:
        return code
    indent = min(len(line) - len(line.lstrip()) for line in body)
    unit = "\t" if body[0].startswith("\t") else "    "
    level = indent - len(unit)
    if level <= 0:
        return code
    return (unit[0] * level) + code


def strip_docstring(code: str) -> str:
    """Code of a function with its docstring statement removed (unchanged if it does not parse);
    a first line cut at its column is re-indented first (`reindent_first_line`)."""
    src = textwrap.dedent(reindent_first_line(code))
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
