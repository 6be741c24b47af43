"""`textDocument/hover`: definitions, call sites in the file and across the index, labels, cache."""
from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest
from lsprotocol import types as lsp

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _hover(uri: str, line: int, col: int) -> lsp.HoverParams:
    return lsp.HoverParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line, col))


def _pos(text: str, needle: str, offset: int = 0) -> tuple[int, int]:
    index = text.index(needle) + offset
    return text.count("\n", 0, index), index - text.rfind("\n", 0, index) - 1


async def test_hover_on_definition_shows_signature_docstring_and_label(session) -> None:
    text = (session.root / "bookshelf/catalog.py").read_text()
    uri = session.open("bookshelf/catalog.py", text)
    line, col = _pos(text, "def search_titles", 6)
    hover = await session.client.text_document_hover_async(_hover(uri, line, col))
    assert hover is not None and hover.contents.kind == lsp.MarkupKind.Markdown
    md = hover.contents.value
    assert "def search_titles(self, words: str) -> list[Book]" in md
    assert "method in `Catalog`" in md
    assert "Books whose title contains every word" in md  # the existing docstring
    # generated text is labelled as such, or the card says why there is none
    assert "**Generated summary** (CodeT5+, may be wrong)" in md or "summary" in md.lower()
    assert hover.range.start == lsp.Position(line, 8) and hover.range.end == lsp.Position(line, 21)


async def test_hover_on_call_site_resolves_in_file(session) -> None:
    text = "def helper(x: int) -> int:\n    '''Double x.'''\n    return 2 * x\n\n\nvalue = helper(21)\n"
    uri = session.open("bookshelf/calls.py", text)
    hover = await session.client.text_document_hover_async(_hover(uri, 5, 10))
    assert hover is not None
    assert "def helper(x: int) -> int" in hover.contents.value and "Double x." in hover.contents.value
    assert hover.range == lsp.Range(lsp.Position(5, 8), lsp.Position(5, 14))


async def test_hover_on_call_site_resolves_through_the_index(session) -> None:
    text = (session.root / "bookshelf/stats.py").read_text()
    uri = session.open("bookshelf/stats.py", text)
    line, col = _pos(text, "def median_year(books: list[Book])", 29)  # the `Book` annotation
    hover = await session.client.text_document_hover_async(_hover(uri, line, col))
    assert hover is not None
    md = hover.contents.value
    assert "class Book" in md and "bookshelf/catalog.py" in md and "A book in the catalogue." in md


async def test_hover_on_other_languages(session) -> None:
    for rel, needle, expected in (("web/src/api.ts", "fetchBooks", "async function fetchBooks(baseUrl: string): Promise<Book[]>"),
                                  ("server/main.go", "func NewStore", "func NewStore() *Store"),
                                  ("native/src/lib.rs", "fn is_valid_isbn13", "pub fn is_valid_isbn13(isbn: &str) -> bool")):
        text = (session.root / rel).read_text()
        uri = session.open(rel, text, language_id={"ts": "typescript", "go": "go", "rs": "rust"}[rel.rsplit(".", 1)[1]])
        line, col = _pos(text, needle, len(needle) - 2)
        hover = await session.client.text_document_hover_async(_hover(uri, line, col))
        assert hover is not None, rel
        assert expected in hover.contents.value, hover.contents.value


async def test_hover_on_nothing_is_null(session) -> None:
    uri = session.open("bookshelf/empty_spot.py", "import os\n\n\nx = 1\n")
    assert await session.client.text_document_hover_async(_hover(uri, 1, 0)) is None
    assert await session.client.text_document_hover_async(_hover(uri, 3, 0)) is None  # unknown name


async def test_summary_is_cached_by_content_hash(session) -> None:
    text = "def triple(x):\n    return 3 * x\n"
    uri = session.open("bookshelf/cached.py", text)
    first = await session.client.text_document_hover_async(_hover(uri, 0, 5))
    # the same function in another file: same code, same hash -> identical card body, no model call
    uri2 = session.open("bookshelf/cached_copy.py", text)
    second = await session.client.text_document_hover_async(_hover(uri2, 0, 5))
    assert first.contents.value == second.contents.value
    # persisted in the index by content hash (and model), so restarts reuse it too
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from lsp_server.engine import index_path
    from lsp_server.symbols import extract_symbols
    (sym,) = extract_symbols(text, "python")
    db = sqlite3.connect(index_path(session.root, session.options["index"]["cacheDir"]))
    rows = db.execute("SELECT count(*) FROM summaries WHERE hash=?", [sym.content_hash]).fetchone()[0]
    assert rows == 1
