"""Bad input never crashes the server: positions, URIs, encodings, sizes, malformed requests,
missing/corrupt models, corrupt indexes, symlinks out of the workspace."""
from __future__ import annotations

import asyncio
import concurrent.futures
import json
import shutil
import sys
from pathlib import Path

import pytest
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException

pytestmark = pytest.mark.asyncio(loop_scope="session")

REPO = Path(__file__).resolve().parents[2]


def _pos_params(uri: str, line: int, col: int):
    doc, pos = lsp.TextDocumentIdentifier(uri=uri), lsp.Position(line, col)
    return (lsp.HoverParams(text_document=doc, position=pos),
            lsp.InlineCompletionParams(text_document=doc, position=pos, context=lsp.InlineCompletionContext(
                trigger_kind=lsp.InlineCompletionTriggerKind.Invoked)),
            lsp.CodeActionParams(text_document=doc, range=lsp.Range(pos, pos),
                                 context=lsp.CodeActionContext(diagnostics=[])))


async def _all_null(client, uri: str, line: int, col: int) -> None:
    hover, inline, action = _pos_params(uri, line, col)
    assert await client.text_document_hover_async(hover) is None
    assert await client.text_document_inline_completion_async(inline) is None
    assert not await client.text_document_code_action_async(action)


async def test_out_of_range_positions(session) -> None:
    uri = session.open("bookshelf/short.py", "def f():\n    return 1\n")
    for line, col in ((99, 0), (0, 500), (1, 15)):
        await _all_null(session.client, uri, line, col)
    assert (await session.status())["model"]["state"] == "ready"


async def test_unknown_and_outside_uris_are_never_read(session, tmp_path: Path) -> None:
    outside = tmp_path / "secret.py"
    outside.write_text("def secret_function():\n    pass\n")
    for uri in (outside.as_uri(), session.uri("bookshelf/missing.py"), "untitled:Untitled-1",
                "file:///etc/hostname"):
        await _all_null(session.client, uri, 0, 4)


async def test_non_utf8_binary_and_huge_files_are_skipped(lsp_helpers, tiny_bundle, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "latin1.py").write_bytes("def caf\xe9():\n    return '\xe9'\n".encode("latin-1"))
    (ws / "blob.js").write_bytes(b"function x() {}\x00\x01\x02" * 10)
    (ws / "huge.py").write_text("def huge_function():\n    pass\n" + "# padding\n" * 500)
    (ws / "fine.py").write_text("def fine_function():\n    pass\n")
    s = await lsp_helpers.start_session(ws, lsp_helpers.server_options(
        tiny_bundle, tmp_path / "cache", index={"maxFileSize": 2000}))
    try:
        status = await s.wait_indexed()
        assert status["index"]["files"] == 1 and status["index"]["symbols"] == 1
        result = await s.client.workspace_symbol_async(lsp.WorkspaceSymbolParams(query="function"))
        assert [r.name for r in result] == ["fine_function"]
        assert await s.client.text_document_hover_async(_pos_params(s.uri("latin1.py"), 0, 5)[0]) is None
    finally:
        await lsp_helpers.stop_session(s)


def _send_raw(client, message: dict) -> asyncio.Future | None:
    """Write a hand-made JSON-RPC message (the typed client refuses malformed params)."""
    future = None
    if "id" in message:
        future = concurrent.futures.Future()
        client.protocol._request_futures[message["id"]] = future
    body = json.dumps(message)
    client.protocol.writer.write(f"Content-Length: {len(body)}\r\n\r\n{body}".encode())
    return asyncio.wrap_future(future) if future else None


async def test_malformed_requests_get_errors_not_crashes(session) -> None:
    bad = _send_raw(session.client, {"jsonrpc": "2.0", "id": "bad-1", "method": lsp.TEXT_DOCUMENT_HOVER,
                                     "params": {"textDocument": 5}})
    with pytest.raises(JsonRpcException):
        await bad
    unknown = _send_raw(session.client, {"jsonrpc": "2.0", "id": "bad-2", "method": "codet5p/noSuchMethod",
                                         "params": {}})
    with pytest.raises(JsonRpcException):
        await unknown
    _send_raw(session.client, {"jsonrpc": "2.0", "method": lsp.TEXT_DOCUMENT_DID_OPEN,
                               "params": {"textDocument": {"uri": 1}}})
    assert (await session.status())["model"]["state"] == "ready"


async def test_corrupt_model_is_reported_once_and_search_still_works(lsp_helpers, tiny_bundle, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, bundle)
    for graph in bundle.glob("encoder*.onnx"):
        graph.write_bytes(graph.read_bytes()[:100])
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "a.py").write_text('def parse_isbn(text):\n    """Parse an ISBN number."""\n')
    s = await lsp_helpers.start_session(ws, lsp_helpers.server_options(bundle, tmp_path / "cache"))
    try:
        status = await s.wait_indexed()
        assert status["model"]["state"] == "error" and "encoder" in status["model"]["message"]
        result = await s.client.workspace_symbol_async(lsp.WorkspaceSymbolParams(query="parse an isbn"))
        assert [r.name for r in result] == ["parse_isbn"]
        warnings = [m.message for m in s.client.messages if m.type == lsp.MessageType.Warning]
        assert len(warnings) == 1 and str(bundle) in warnings[0]
        uri = s.open("a.py")
        hover = await s.client.text_document_hover_async(_pos_params(uri, 0, 6)[0])
        assert "no generated summary" in hover.contents.value
    finally:
        await lsp_helpers.stop_session(s)


async def test_corrupt_index_is_rebuilt(lsp_helpers, tiny_bundle, tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO))
    from lsp_server.engine import index_path
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "a.py").write_text("def survivor():\n    pass\n")
    cache = tmp_path / "cache"
    path = index_path(ws, str(cache))
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database" * 100)
    s = await lsp_helpers.start_session(ws, lsp_helpers.server_options(tiny_bundle, cache))
    try:
        status = await s.wait_indexed()
        assert status["index"]["symbols"] == 1
        result = await s.client.workspace_symbol_async(lsp.WorkspaceSymbolParams(query="survivor"))
        assert [r.name for r in result] == ["survivor"]
    finally:
        await lsp_helpers.stop_session(s)


async def test_symlinks_out_of_the_workspace_are_not_followed(lsp_helpers, tiny_bundle, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text("def leaked_secret():\n    pass\n")
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "own.py").write_text("def own_function():\n    pass\n")
    (ws / "link.py").symlink_to(outside / "secret.py")
    (ws / "linkdir").symlink_to(outside, target_is_directory=True)
    s = await lsp_helpers.start_session(ws, lsp_helpers.server_options(tiny_bundle, tmp_path / "cache"))
    try:
        status = await s.wait_indexed()
        assert status["index"]["symbols"] == 1
        assert not await s.client.workspace_symbol_async(lsp.WorkspaceSymbolParams(query="leaked_secret"))
        hover = _pos_params((ws / "link.py").as_uri(), 0, 6)[0]
        assert await s.client.text_document_hover_async(hover) is None  # not opened, outside: not read
    finally:
        await lsp_helpers.stop_session(s)
