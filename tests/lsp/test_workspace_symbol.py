"""`workspace/symbol`: classic identifier search and natural-language hybrid search."""
from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types as lsp

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _search(client, query: str) -> list[lsp.WorkspaceSymbol]:
    return await client.workspace_symbol_async(lsp.WorkspaceSymbolParams(query=query))


async def test_identifier_query_is_a_classic_symbol_search(session) -> None:
    result = await _search(session.client, "Catalog")
    assert result[0].name == "Catalog" and result[0].kind == lsp.SymbolKind.Class
    assert result[0].location.uri.endswith("/bookshelf/catalog.py")
    assert result[0].location.range.start == lsp.Position(21, 6)
    names = [r.name for r in result]
    assert "save_catalog_json" in names  # substring matches follow the exact one
    assert all("catalog" in n.lower() for n in names)


async def test_identifier_query_prefix_camel_and_container(session) -> None:
    assert [r.name for r in await _search(session.client, "fetchB")] == ["fetchBooks"]
    sub = [r.name for r in await _search(session.client, "isvi")]  # subsequence: is_valid_isbn13
    assert sub and sub[0] == "is_valid_isbn13"
    put = await _search(session.client, "Store.Put")
    assert put[0].name == "Put" and put[0].container_name == "Store"
    assert put[0].kind == lsp.SymbolKind.Method


async def test_symbols_from_every_language(session) -> None:
    expected = {"Book": lsp.SymbolKind.Struct, "BookCache": lsp.SymbolKind.Class,
                "SortKey": lsp.SymbolKind.TypeParameter, "formatBook": lsp.SymbolKind.Function,
                "escapeHtml": lsp.SymbolKind.Function, "CsvImporter": lsp.SymbolKind.Class,
                "splitLine": lsp.SymbolKind.Method, "Isbn": lsp.SymbolKind.Struct,
                "handleBooks": lsp.SymbolKind.Method}
    for name, kind in expected.items():
        hits = [r for r in await _search(session.client, name) if r.name == name]
        assert any(h.kind == kind for h in hits), (name, [(h.kind, h.location.uri) for h in hits])


async def test_natural_language_query_runs_hybrid_search(session) -> None:
    result = await _search(session.client, "read the configuration file")
    names = [r.name for r in result]
    assert "read_config" in names, names
    # hybrid: embedding neighbours come back too, beyond the few lexical matches
    assert len(result) > 3


async def test_gitignored_files_are_not_indexed(session) -> None:
    scratch = session.root / "scratch"
    scratch.mkdir(exist_ok=True)
    (scratch / "notes.py").write_text("def ignored_scratch_function():\n    pass\n")
    (session.root / "build").mkdir(exist_ok=True)
    (session.root / "build" / "out.js").write_text("function builtArtifact() {}\n")
    session.client.workspace_did_change_watched_files(lsp.DidChangeWatchedFilesParams(changes=[
        lsp.FileEvent(uri=(scratch / "notes.py").as_uri(), type=lsp.FileChangeType.Created),
        lsp.FileEvent(uri=(session.root / "build/out.js").as_uri(), type=lsp.FileChangeType.Created)]))
    status = await session.status()
    assert not await _search(session.client, "ignored_scratch_function")
    assert not await _search(session.client, "builtArtifact")
    assert status["index"]["files"] >= 7


async def test_lexical_fallback_without_a_model(lsp_helpers, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "cfg.py").write_text('def load_settings(path):\n    """Load the settings file from disk."""\n')
    (ws / "other.py").write_text("def unrelated():\n    pass\n")
    s = await lsp_helpers.start_session(ws, lsp_helpers.server_options(tmp_path / "no-such-bundle", tmp_path / "c"))
    try:
        await s.wait_indexed()
        result = await _search(s.client, "load settings file")
        assert [r.name for r in result] == ["load_settings"]
        warnings = [m for m in s.client.messages if m.type == lsp.MessageType.Warning]
        assert len(warnings) == 1 and "no-such-bundle" in warnings[0].message
        assert "lexical" in warnings[0].message
        await _search(s.client, "another query")  # told once only
        assert len([m for m in s.client.messages if m.type == lsp.MessageType.Warning]) == 1
        status = await s.status()
        assert status["model"]["state"] == "missing" and status["index"]["embeddings"] == 0
    finally:
        await lsp_helpers.stop_session(s)
