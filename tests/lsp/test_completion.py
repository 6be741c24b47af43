"""`textDocument/inlineCompletion` and the `textDocument/completion` fallback, end to end.

The tiny bundle has random weights, so what it writes is noise that post-processing usually
drops; these tests check the protocol behaviour (model actually run, concurrency, cancellation,
deadline, deletion, fallback) and the engine-level counters. The clean-up rules themselves are
unit-tested in test_completion_logic.py.
"""
from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcRequestCancelled

pytestmark = pytest.mark.asyncio(loop_scope="session")

DOC = "bookshelf/new_module.py"
TEXT = "from bookshelf.catalog import Catalog\n\n\ndef count_books(catalog: Catalog) -> int:\n    return len(\n"


def _params(uri: str, line: int, col: int, automatic: bool = False) -> lsp.InlineCompletionParams:
    kind = lsp.InlineCompletionTriggerKind.Automatic if automatic else lsp.InlineCompletionTriggerKind.Invoked
    return lsp.InlineCompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line, col),
        context=lsp.InlineCompletionContext(trigger_kind=kind))


async def test_inline_completion_runs_the_model(session) -> None:
    uri = session.open(DOC, TEXT)
    result = await session.client.text_document_inline_completion_async(_params(uri, 4, 15))
    assert result is None or all(isinstance(i, lsp.InlineCompletionItem) and i.insert_text.strip()
                                 for i in result.items)
    status = await session.status()
    assert status["completions"].get("model", 0) >= 1, status  # the decoder really ran
    assert status["completionP50Ms"] is not None  # latency targets live in bench/server.py
    # the same request again is answered from the LRU cache without the model
    await session.client.text_document_inline_completion_async(_params(uri, 4, 15))
    after = await session.status()
    assert after["completions"].get("cache", 0) >= 1, after
    assert after["completions"]["model"] == status["completions"]["model"]


async def test_concurrent_requests_all_answer(session) -> None:
    uri = session.open("bookshelf/burst.py", "def f(x):\n    return x\n\n\ndef g(y):\n    ")
    before = (await session.status())["completions"]
    results = await asyncio.gather(*[
        session.client.text_document_inline_completion_async(_params(uri, 5, 4))
        for i in range(5)])
    assert len(results) == 5
    after = (await session.status())["completions"]
    answered = sum(after.values()) - sum(before.values()) - (after.get("shown", 0) - before.get("shown", 0))
    assert answered == 5, (before, after)


async def test_cancel_request_is_honoured(session) -> None:
    slow = {**session.options, "completion": {"maxNewTokens": 512, "deadlineMs": 20000, "cacheSize": 1}}
    session.client.workspace_did_change_configuration(lsp.DidChangeConfigurationParams(settings=slow))
    uri = session.open("bookshelf/slow.py", "def long_function(a, b):\n")
    msg_id = str(uuid.uuid4())
    future = asyncio.ensure_future(session.client.protocol.send_request_async(
        lsp.TEXT_DOCUMENT_INLINE_COMPLETION, _params(uri, 1, 0), msg_id=msg_id))
    # the client may reorder writes: cancel only once the server is computing the request
    while (await session.status())["completionsInFlight"] == 0:
        assert not future.done(), "the 512-token completion finished before it could be cancelled"
    session.client.protocol.notify(lsp.CANCEL_REQUEST, lsp.CancelParams(id=msg_id))
    with pytest.raises(JsonRpcRequestCancelled):
        await future
    # the server is still fine afterwards
    assert (await session.status())["model"]["state"] == "ready"
    session.client.workspace_did_change_configuration(
        lsp.DidChangeConfigurationParams(settings=session.options))


async def test_deadline_returns_nothing_and_reports_slow(lsp_helpers, tiny_bundle: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    s = await lsp_helpers.start_session(ws, lsp_helpers.server_options(
        tiny_bundle, tmp_path / "cache", completion={"deadlineMs": 1, "cacheSize": 1}))
    try:
        await s.wait_status(lambda st: st["model"]["state"] == "ready")
        for i in range(6):
            uri = s.open(f"m{i}.py", f"def f{i}(value):\n    return value + {i}\n\n\ndef g{i}(x):\n    ")
            result = await s.client.text_document_inline_completion_async(_params(uri, 5, 4))
            assert result is None
        await s.wait_status(lambda st: st["slow"] is True, timeout=30)
        status = await s.status()
        assert status["completions"] == {"deadline": 6}, status
    finally:
        await lsp_helpers.stop_session(s)


async def test_no_suggestion_right_after_a_deletion(session) -> None:
    uri = session.open("bookshelf/deleting.py", "value = compute(1, 2)\n")
    before = (await session.status())["completions"]
    session.client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[lsp.TextDocumentContentChangePartial(
            range=lsp.Range(lsp.Position(0, 19), lsp.Position(0, 20)), text="")]))
    result = await session.client.text_document_inline_completion_async(_params(uri, 0, 19, automatic=True))
    assert result is None
    assert (await session.status())["completions"] == before  # nothing was even attempted
    # an explicit request (Invoked) still works after a deletion
    await session.client.text_document_inline_completion_async(_params(uri, 0, 19))
    assert sum((await session.status())["completions"].values()) > sum(before.values())


async def test_completion_fallback_for_clients_without_inline(lsp_helpers, tiny_bundle: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    s = await lsp_helpers.start_session(ws, lsp_helpers.server_options(tiny_bundle, tmp_path / "cache"),
                                        lsp_helpers.capabilities(inline=False))
    try:
        await s.wait_status(lambda st: st["model"]["state"] == "ready")
        uri = s.open("a.py", "def add(a, b):\n    return a + b\n\nresult = add(")
        got = await s.client.text_document_completion_async(lsp.CompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(3, 13)))
        assert isinstance(got, lsp.CompletionList) and got.is_incomplete
        for item in got.items:
            assert item.detail == "CodeT5+" and item.text_edit is not None
        status = await s.status()
        assert sum(status["completions"].values()) >= 1
    finally:
        await lsp_helpers.stop_session(s)


async def test_inline_clients_get_no_duplicate_completion_items(session) -> None:
    uri = session.open("bookshelf/dup.py", "x = 1\n")
    got = await session.client.text_document_completion_async(lsp.CompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(1, 0)))
    assert got is None
