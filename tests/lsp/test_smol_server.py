"""The server on a smol bundle (MiniLM encoder + LLaMA decoder), end to end over stdio.

With its decoder built: completion, hover summaries and natural-language search all run the
model. Without it: the server says what to run, completion and summaries are off, and search
still uses the encoder's embeddings.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from lsprotocol import types as lsp

pytestmark = pytest.mark.asyncio(loop_scope="session")

TEXT = "def count_books(catalog) -> int:\n    return len(catalog.books)\n\n\ndef total(xs):\n    return"


async def _ready(session) -> dict:
    await session.wait_indexed()
    return await session.status()


async def test_every_feature_runs_the_smol_model(workspace: Path, smol_bundle: Path, lsp_helpers,
                                                  tmp_path: Path) -> None:
    s = await lsp_helpers.start_session(workspace, lsp_helpers.server_options(smol_bundle, tmp_path / "cache"))
    try:
        status = await _ready(s)
        model = status["model"]
        assert model["state"] == "ready" and model["kind"] == "smol", model
        assert model["embedding"] and model["decoder"] and model["matching"]
        assert status["index"]["embeddings"] > 0
        uri = s.open("bookshelf/smol_doc.py", TEXT)
        await s.client.text_document_inline_completion_async(lsp.InlineCompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(5, 10),
            context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Invoked)))
        assert (await s.status())["completions"].get("model", 0) >= 1
        # typing on: the next request prefills only the new tokens of the prompt
        s.client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(version=2, uri=uri),
            content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=TEXT + " sum(")]))
        await s.client.text_document_inline_completion_async(lsp.InlineCompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(5, 15),
            context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Invoked)))
        status = await s.status()
        cache = status["promptCache"]
        assert cache["entries"] == 1 and cache["hits"] >= 1 and cache["reusedTokens"] > 0, cache
        drafts = status["drafts"]  # with the guesses taken from the previous request counted apart
        previous = drafts["fromPrevious"]
        assert 0 <= previous["accepted"] <= previous["proposed"] <= drafts["proposed"], drafts
        assert previous["accepted"] <= drafts["accepted"], drafts
        hover = await s.client.text_document_hover_async(lsp.HoverParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(0, 6)))
        assert hover is not None and "count_books" in hover.contents.value
        hits = await s.client.workspace_symbol_async(lsp.WorkspaceSymbolParams(query="read the configuration file"))
        assert hits and len(hits) > 3  # lexical matches plus embedding neighbours
        index = (await s.status())["index"]  # the vectors searched are in memory as int8 rows
        assert 0 < index["vectorsLoaded"] <= index["embeddings"], index
        assert 0 < index["vectorBytes"] < index["vectorsLoaded"] * 384 * 2, index
    finally:
        await lsp_helpers.stop_session(s)


async def test_unbuilt_decoder_leaves_search_and_names_the_fix(workspace: Path, smol_bundle: Path, lsp_helpers,
                                                               tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODET5P_CACHE", str(tmp_path / "model-cache"))  # no built decoder there either
    bundle = tmp_path / "bundle"
    shutil.copytree(smol_bundle, bundle)
    shutil.rmtree(bundle / "decoder")
    s = await lsp_helpers.start_session(workspace, lsp_helpers.server_options(bundle, tmp_path / "cache"))
    try:
        status = await _ready(s)
        model = status["model"]
        assert model["state"] == "ready" and model["embedding"] and not model["decoder"]
        assert "codet5p-lsp model build" in model["message"]
        assert status["index"]["embeddings"] > 0
        uri = s.open("bookshelf/smol_doc.py", TEXT)
        result = await s.client.text_document_inline_completion_async(lsp.InlineCompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(5, 10),
            context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Invoked)))
        assert result is None or not result.items
        hits = await s.client.workspace_symbol_async(lsp.WorkspaceSymbolParams(query="read the configuration file"))
        assert "read_config" in [h.name for h in hits]
    finally:
        await lsp_helpers.stop_session(s)


async def test_search_is_reranked_by_likelihood_when_the_bundle_records_it(workspace: Path, smol_bundle: Path,
                                                                           lsp_helpers, tmp_path: Path) -> None:
    import json

    bundle = tmp_path / "bundle"
    shutil.copytree(smol_bundle, bundle)
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["search"] = {**manifest.get("search", {}), "likelihood_weight": 0.5}
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    s = await lsp_helpers.start_session(workspace, lsp_helpers.server_options(bundle, tmp_path / "cache"))
    try:
        await _ready(s)
        hits = await s.client.workspace_symbol_async(lsp.WorkspaceSymbolParams(query="read the configuration file"))
        assert hits and len(hits) > 3
        assert (await s.status())["searchRerank"] == {"likelihood": 1, "skipped": 0}
    finally:
        await lsp_helpers.stop_session(s)
