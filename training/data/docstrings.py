"""The one definition of a docstring's summary sentence, shared by the training pairs
(`training.data.pairs`) and the evaluation references (`training.eval`), so the model is trained
on the same kind of sentence it is scored against.
"""
from __future__ import annotations

import inspect
import re

_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "cf.", "resp.", "approx.")


def first_paragraph(docstring: str) -> str:
    """The docstring's first paragraph (up to the first blank line), lines joined by spaces."""
    text = inspect.cleandoc(docstring or "").strip()
    para = re.split(r"\n\s*\n", text, maxsplit=1)[0]
    return " ".join(line.strip() for line in para.splitlines()).strip()


def first_sentence(docstring: str) -> str:
    """First sentence of the first paragraph, without its final period.

    A sentence ends at `.`, `!` or `?` followed by whitespace or the end; common abbreviations
    (`e.g.`, `i.e.`, ...) do not end a sentence.
    """
    para = first_paragraph(docstring)
    for match in _SENTENCE_END.finditer(para):
        end = match.end()
        if any(para[:end].lower().endswith(a) for a in _ABBREVIATIONS):
            continue
        return para[:end].rstrip(".").strip()
    return para.rstrip(".").strip()
