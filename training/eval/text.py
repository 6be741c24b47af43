"""Small text helpers shared by the metrics, baselines and held-out builder.

- `first_sentence`: the summarisation reference (first sentence of a docstring's first paragraph);
- `identifier_tokens`: lexical tokens for BM25 and similarity (identifiers split at `_`,
  camelCase and digits, lower-cased);
- `normalise_code`: whitespace/comment-insensitive form used for exact-duplicate checks.
"""
from __future__ import annotations

import io
import re
import tokenize

from training.data.docstrings import first_paragraph, first_sentence  # noqa: F401 (re-exported)

_WORD = re.compile(r"[A-Za-z0-9]+")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
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
