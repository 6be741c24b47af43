"""`textDocument/codeAction` "Generate docstring" (+ `codeAction/resolve`) for Python and JS/TS."""
from __future__ import annotations

import pytest
from lsprotocol import types as lsp

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _params(uri: str, line: int, col: int) -> lsp.CodeActionParams:
    pos = lsp.Position(line, col)
    return lsp.CodeActionParams(text_document=lsp.TextDocumentIdentifier(uri=uri), range=lsp.Range(pos, pos),
                                context=lsp.CodeActionContext(diagnostics=[]))


def _apply(text: str, edit: lsp.WorkspaceEdit, uri: str) -> str:
    (change,) = edit.changes[uri]
    lines = text.split("\n")
    pos = change.range.start
    assert change.range.start == change.range.end and pos.character == 0
    lines.insert(pos.line, change.new_text.rstrip("\n"))
    return "\n".join(lines)


async def test_python_docstring(session) -> None:
    text = "class Shelf:\n    def count_books(self, shelf_id: int) -> int:\n        return len(self.books[shelf_id])\n"
    uri = session.open("bookshelf/shelf.py", text)
    actions = await session.client.text_document_code_action_async(_params(uri, 2, 10))
    assert [a.title for a in actions] == ["Generate docstring"]
    assert actions[0].kind == lsp.CodeActionKind.RefactorRewrite and actions[0].edit is None  # lazy
    resolved = await session.client.code_action_resolve_async(actions[0])
    new = _apply(text, resolved.edit, uri)
    lines = new.split("\n")
    assert lines[1] == "    def count_books(self, shelf_id: int) -> int:"
    assert lines[2].startswith('        """') and lines[2].endswith('"""') and len(lines[2]) > 14
    assert lines[3] == "        return len(self.books[shelf_id])"
    compile(new, "shelf.py", "exec")  # still valid Python (compiled, never run)


async def test_jsdoc_for_javascript_and_typescript(session) -> None:
    for rel, language, text in (
            ("web/src/extra.js", "javascript", "export function totalPages(books, perPage) {\n  return books.length * perPage;\n}\n"),
            ("web/src/extra.ts", "typescript", "  function area(width: number, height: number): number {\n    return width * height;\n  }\n")):
        uri = session.open(rel, text, language_id=language)
        actions = await session.client.text_document_code_action_async(_params(uri, 1, 4))
        assert [a.title for a in actions] == ["Generate docstring"], rel
        resolved = await session.client.code_action_resolve_async(actions[0])
        (change,) = resolved.edit.changes[uri]
        assert change.range.start == lsp.Position(0, 0)
        indent = text[: len(text) - len(text.lstrip())]
        block = change.new_text.split("\n")
        assert block[0] == f"{indent}/**" and block[-2] == f"{indent} */", change.new_text
        params = [ln.split("@param ")[1] for ln in block if "@param" in ln]
        assert params == (["books", "perPage"] if language == "javascript" else ["width", "height"])


async def test_no_action_when_documented_or_outside_a_function(session) -> None:
    text = 'def documented():\n    """Already here."""\n    return 1\n\nx = 2\n'
    uri = session.open("bookshelf/documented.py", text)
    assert not await session.client.text_document_code_action_async(_params(uri, 2, 4))
    assert not await session.client.text_document_code_action_async(_params(uri, 4, 0))


async def test_eager_edit_for_clients_without_resolve(lsp_helpers, tiny_bundle, tmp_path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    s = await lsp_helpers.start_session(ws, lsp_helpers.server_options(tiny_bundle, tmp_path / "c"),
                                        lsp_helpers.capabilities(resolve=False))
    try:
        uri = s.open("a.py", "def f(a):\n    return a\n")
        actions = await s.client.text_document_code_action_async(_params(uri, 1, 4))
        (change,) = actions[0].edit.changes[uri]
        assert change.range.start == lsp.Position(1, 0) and change.new_text.startswith('    """')
    finally:
        await lsp_helpers.stop_session(s)
