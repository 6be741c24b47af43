"""Background indexing: `$/progress`, cancellation, reuse across restarts, incremental updates."""
from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from lsprotocol import types as lsp

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _progress_end(client, timeout: float = 60) -> tuple[str, list]:
    """(token, reports) of the first work-done progress that has ended. Polled: waiting for
    "the next $/progress" missed an end that arrived before the wait was registered (the
    wait runs as a task that starts a loop turn later) and then hung until the timeout."""
    end = time.monotonic() + timeout
    while True:
        for token, reports in client.progress_reports.items():
            if reports and isinstance(reports[-1], lsp.WorkDoneProgressEnd):
                return token, reports
        assert time.monotonic() < end, f"no work-done progress ended in {timeout} s"
        await asyncio.sleep(0.02)


async def _until_found(client, query: str, present: bool = True, timeout: float = 20) -> list:
    end = time.monotonic() + timeout
    while True:
        result = await client.workspace_symbol_async(lsp.WorkspaceSymbolParams(query=query))
        if bool([r for r in result if r.name == query]) == present:
            return result
        assert time.monotonic() < end, f"{query!r} {'never appeared' if present else 'never left'}"
        await asyncio.sleep(0.05)


def _make_workspace(root: Path, n_files: int) -> None:
    for i in range(n_files):
        d = root / f"pkg{i // 50}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"mod{i}.py").write_text(
            f"def compute_{i}(value):\n    \"\"\"Compute thing {i}.\"\"\"\n    return value * {i}\n\n\n"
            f"class Widget{i}:\n    def render(self):\n        return {i}\n")


async def test_progress_and_reuse_across_restarts(lsp_helpers, tiny_bundle, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    _make_workspace(ws, 30)
    options = lsp_helpers.server_options(tiny_bundle, tmp_path / "cache")
    s = await lsp_helpers.start_session(ws, options)
    try:
        token, reports = await _progress_end(s.client)
        assert isinstance(reports[0], lsp.WorkDoneProgressBegin) and reports[0].cancellable
        assert reports[0].title == "CodeT5+ indexing"
        assert reports[-1].message.startswith("done: 30 files, 90 new symbols, 90 embedded"), reports[-1]
        status = await s.wait_status(lambda st: st["index"]["state"] == "idle" and st["index"]["embeddings"] == 90)
        assert status["index"]["symbols"] == 90
    finally:
        await lsp_helpers.stop_session(s)
    s = await lsp_helpers.start_session(ws, options)  # same cache dir: nothing to redo
    try:
        _, reports = await _progress_end(s.client)
        assert reports[-1].message.startswith("done: 30 files, 0 new symbols, 0 embedded"), reports[-1]
        assert (await _until_found(s.client, "compute_7"))[0].name == "compute_7"
    finally:
        await lsp_helpers.stop_session(s)


async def test_indexing_can_be_cancelled(lsp_helpers, tiny_bundle, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    _make_workspace(ws, 600)
    s = await lsp_helpers.start_session(ws, lsp_helpers.server_options(tiny_bundle, tmp_path / "cache"))
    try:
        end = time.monotonic() + 30
        while not s.client.progress_reports or not next(iter(s.client.progress_reports.values())):
            assert time.monotonic() < end, "no work-done progress began"
            await asyncio.sleep(0.02)
        token = next(iter(s.client.progress_reports))
        s.client.window_work_done_progress_cancel(lsp.WorkDoneProgressCancelParams(token=token))
        _, reports = await _progress_end(s.client)
        assert reports[-1].message.startswith("cancelled"), reports[-1]
        status = await s.status()
        assert status["index"]["files"] < 600
    finally:
        await lsp_helpers.stop_session(s)


async def test_incremental_updates(session) -> None:
    before = (await session.status())["index"]
    rel = "bookshelf/loans.py"
    text = "def renew_loan(isbn, days):\n    return days + 7\n"
    uri = session.open(rel, text)  # unsaved, only in the editor: indexed from memory
    await _until_found(session.client, "renew_loan")
    session.client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[lsp.TextDocumentContentChangeWholeDocument(
            text=text + "\n\ndef cancel_loan(isbn):\n    return None\n")]))
    await _until_found(session.client, "cancel_loan")
    status = await session.status()
    # the file on disk, then saved and closed; then deleted through the file watcher
    path = session.root / rel
    path.write_text(text)
    session.client.text_document_did_save(lsp.DidSaveTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=uri)))
    await _until_found(session.client, "cancel_loan", present=False)
    session.client.text_document_did_close(lsp.DidCloseTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=uri)))
    path.unlink()
    session.client.workspace_did_change_watched_files(lsp.DidChangeWatchedFilesParams(
        changes=[lsp.FileEvent(uri=uri, type=lsp.FileChangeType.Deleted)]))
    await _until_found(session.client, "renew_loan", present=False)
    assert status["index"]["symbols"] >= before["symbols"]


async def test_only_changed_symbols_are_re_embedded(lsp_helpers, tiny_bundle, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    _make_workspace(ws, 2)
    s = await lsp_helpers.start_session(ws, lsp_helpers.server_options(tiny_bundle, tmp_path / "cache"))
    try:
        await s.wait_status(lambda st: st["index"]["state"] == "idle" and st["index"]["embeddings"] == 6)
        path = ws / "pkg0" / "mod0.py"
        path.write_text(path.read_text().replace("return value * 0", "return value * 100"))
        s.client.workspace_did_change_watched_files(lsp.DidChangeWatchedFilesParams(
            changes=[lsp.FileEvent(uri=path.as_uri(), type=lsp.FileChangeType.Changed)]))
        # one function changed: exactly one new vector (the class and method are unchanged)
        end = time.monotonic() + 20
        while (await s.status())["index"]["embeddings"] != 7:
            assert time.monotonic() < end
            await asyncio.sleep(0.05)
        assert (await s.status())["index"]["symbols"] == 6
    finally:
        await lsp_helpers.stop_session(s)
