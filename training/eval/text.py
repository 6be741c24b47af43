"""Small text helpers shared by the metrics, baselines and held-out builder.

- `first_sentence`: the summarisation reference (first sentence of a docstring's first paragraph);
- `identifier_tokens`: lexical tokens for BM25 and similarity (identifiers split at `_`,
  camelCase and digits, lower-cased);
- `normalise_code`: whitespace/comment-insensitive form used for exact-duplicate checks.
"""
from __future__ import annotations

import inspect
import io
import re
import tokenize

_WORD = re.compile(r"[A-Za-z0-9]+")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
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


def identifier_tokens(text: str) -> list[str]:
    """Lower-cased sub-tokens: `readJSONFile_v2` -> ['read', 'json', 'file', 'v', '2']."""
    out: list[str] = []
    for word in _WORD.findall(text):
        out.extend(part.lower() for part in _CAMEL.findall(word))
    return out


def normalise_code(code: str) -> str:
    """Code with comments dropped and whitespace collapsed (falls back to whitespace only)."""
    try:
        toks = [t.string for t in tokenize.generate_tokens(io.StringIO(code).readline)
                if t.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE,
                                  tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER)]
        return " ".join(toks)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return " ".join(code.split())


def normalise_text(text: str) -> str:
    """Lower-cased words only, for exact-duplicate checks of natural language."""
    return " ".join(_WORD.findall(text.lower()))
