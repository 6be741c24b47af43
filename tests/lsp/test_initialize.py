"""`initialize`: advertised capabilities, answer time, options handling, the status notification."""
from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types as lsp

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_capabilities_and_status(session) -> None:
    caps = session.init.capabilities
    assert isinstance(caps.inline_completion_provider, lsp.InlineCompletionOptions)
    assert caps.hover_provider
    assert caps.completion_provider is not None
    assert caps.workspace_symbol_provider
    assert isinstance(caps.code_action_provider, lsp.CodeActionOptions)
    assert caps.code_action_provider.resolve_provider is True
    assert lsp.CodeActionKind.RefactorRewrite in caps.code_action_provider.code_action_kinds
    assert caps.text_document_sync.save
    assert session.init.server_info.name == "codet5p-lsp"
    # the model and the index load after `initialized`: initialize itself is instant
    current = await session.status()
    assert current["initializeMs"] < 1000, current
    status = await session.wait_status(lambda s: s["model"]["state"] == "ready")
    assert status["model"]["embedding"] and status["model"]["decoder"]
    assert [r.method for r in session.registrations] == [lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES]
    assert current["index"]["files"] >= 7 and current["index"]["symbols"] >= 30


async def test_invalid_options_are_reported_and_defaults_used(tiny_bundle: Path, tmp_path: Path, lsp_helpers) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "a.py").write_text("def alpha():\n    return 1\n")
    options = lsp_helpers.server_options(tiny_bundle, tmp_path / "cache",
                             completion={"deadlineMs": "soon", "maxNewTokens": -3},
                             search={"rerankTopK": 5})
    options["colour"] = "blue"
    s = await lsp_helpers.start_session(ws, options)
    try:
        await s.wait_indexed()
        texts = [m.message for m in s.client.messages]
        assert any("completion.deadlineMs" in t and "'soon'" in t for t in texts), texts
        assert any("completion.maxNewTokens" in t for t in texts), texts
        assert any("colour: unknown option" in t for t in texts), texts
        assert not any("rerankTopK" in t for t in texts)
        # the server still works with the defaults
        result = await s.client.workspace_symbol_async(lsp.WorkspaceSymbolParams(query="alpha"))
        assert [r.name for r in result] == ["alpha"]
    finally:
        await lsp_helpers.stop_session(s)


async def test_logs_never_reach_stdout(session) -> None:
    # a log line on stdout would corrupt JSON-RPC; the session working at all after indexing
    # (which logs at info level) shows none did. Ask once more to be sure the stream is intact.
    status = await session.status()
    assert status["model"]["state"] == "ready"


async def test_positions_are_utf16_even_when_utf8_is_offered(lsp_helpers, tiny_bundle: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    caps = lsp_helpers.capabilities()
    caps.general = lsp.GeneralClientCapabilities(position_encodings=[lsp.PositionEncodingKind.Utf8,
                                                                     lsp.PositionEncodingKind.Utf16])
    s = await lsp_helpers.start_session(ws, lsp_helpers.server_options(tiny_bundle, tmp_path / "c"), caps)
    try:
        assert s.init.capabilities.position_encoding == lsp.PositionEncodingKind.Utf16
        uri = s.open("u.py", "s = '😀'; value = helper(1)\n\ndef helper(x):\n    return x\n")
        hover = await s.client.text_document_hover_async(lsp.HoverParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(0, 20)))
        assert hover is not None and "def helper(x)" in hover.contents.value
        assert hover.range == lsp.Range(lsp.Position(0, 18), lsp.Position(0, 24))  # UTF-16 columns
    finally:
        await lsp_helpers.stop_session(s)
