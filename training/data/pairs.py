"""Stage-2 text-code pairs from Python source, by parsing only (`ast`, never executing).

For every function with a docstring: the docstring's first sentence (`training.data.docstrings`,
the same sentence the summarisation references use), and the function's source
(from its `def` line, decorators excluded) with the docstring removed and the body dedented as it
was written.
"""
from __future__ import annotations

import ast
import textwrap
import warnings
from typing import Iterator

from training.data.docstrings import first_sentence


def _docstring_node(fn: ast.AST) -> ast.Expr | None:
    body = getattr(fn, "body", [])
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        return body[0]
    return None


def function_without_docstring(lines: list[str], fn: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    """Source of `fn` (def line to end) without its docstring; None if nothing else is left."""
    doc = _docstring_node(fn)
    if doc is None or len(fn.body) < 2 or fn.end_lineno is None or doc.end_lineno is None:
        return None
    keep = lines[fn.lineno - 1:doc.lineno - 1] + lines[doc.end_lineno:fn.end_lineno]
    if doc.lineno == fn.lineno:  # one-line `def f(): "doc"; ...` - skip
        return None
    code = textwrap.dedent("".join(keep)).rstrip()
    return code or None


def extract_pairs(text: str, min_words: int = 3, max_doc_chars: int = 256,
                  max_code_chars: int = 4000) -> Iterator[dict[str, str]]:
    """`{"docstring", "code", "name"}` rows for the documented functions of `text`.

    Raises SyntaxError / ValueError when `text` does not parse.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = ast.parse(text)
    lines = text.splitlines(keepends=True)
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        doc = ast.get_docstring(node, clean=False)
        if not doc:
            continue
        sentence = first_sentence(doc)
        if len(sentence.split()) < min_words or len(sentence) > max_doc_chars:
            continue
        code = function_without_docstring(lines, node)
        if code is None or len(code) > max_code_chars or len(code.splitlines()) < 2:
            continue
        yield {"docstring": sentence, "code": code, "name": node.name}
