"""`make demo`: drive the real server over stdio with a real LSP client on a sample workspace.

    python -m lsp_server.demo examples/workspace [--model BUNDLE]

Starts `codet5p-lsp serve` as a subprocess, initializes it on a private copy of the workspace
(so the demo never writes into your checkout), waits for indexing, then prints an inline
completion, a hover card and natural-language search results, each with its latency.
The default model is the shipped bundle (`model.runtime.default_bundle_dir()`); without it the
demo still runs and shows the lexical fallback.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

STATUS = "codet5p/status"
HOVER_TARGET = ("bookshelf/catalog.py", "def search_titles")
COMPLETION_FILE = "bookshelf/stats.py"
COMPLETION_TEXT = "\n\ndef oldest_book(catalog: Catalog) -> Book:\n    "
QUERIES = ("read the configuration file", "validate an isbn checksum", "fetch books over http")


def _status_dict(params: Any) -> dict:
    if isinstance(params, dict):
        return params
    return {k: _status_dict(v) if hasattr(v, "_asdict") or hasattr(v, "__dict__") else v
            for k, v in (params._asdict() if hasattr(params, "_asdict") else vars(params)).items()}


async def run_demo(workspace: Path, model: str | None, timeout: float) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="codet5p-demo-"))
    root = tmp / "workspace"
    shutil.copytree(workspace, root)
    client = LanguageClient("codet5p-demo", "0.1")
    statuses: list[dict] = []
    indexed = asyncio.Event()

    @client.feature(STATUS)
    def on_status(params: Any) -> None:
        status = _status_dict(params)
        statuses.append(status)
        if status.get("index", {}).get("state") == "idle" and any(
                s.get("index", {}).get("state") == "indexing" for s in statuses):
            indexed.set()

    @client.feature(lsp.WINDOW_SHOW_MESSAGE)
    def on_message(params: lsp.ShowMessageParams) -> None:
        print(f"[server message] {params.message}")

    @client.feature(lsp.WINDOW_WORK_DONE_PROGRESS_CREATE)
    def on_progress_create(params: lsp.WorkDoneProgressCreateParams) -> None:
        return None

    @client.feature(lsp.PROGRESS)
    def on_progress(params: lsp.ProgressParams) -> None:
        return None

    env = {**os.environ, "CODET5P_LSP_CACHE_DIR": str(tmp / "cache")}
    t0 = time.perf_counter()
    await client.start_io(sys.executable, "-m", "lsp_server", "serve", "--log-level", "warning", env=env)
    options: dict[str, Any] = {"index": {"cacheDir": str(tmp / "cache")}}
    if model:
        options["model"] = {"path": model}
    caps = lsp.ClientCapabilities(
        window=lsp.WindowClientCapabilities(work_done_progress=True),
        text_document=lsp.TextDocumentClientCapabilities(
            inline_completion=lsp.InlineCompletionClientCapabilities()))
    await client.initialize_async(lsp.InitializeParams(
        capabilities=caps, root_uri=root.as_uri(), initialization_options=options,
        workspace_folders=[lsp.WorkspaceFolder(root.as_uri(), root.name)]))
    print(f"initialize answered in {(time.perf_counter() - t0) * 1000:.0f} ms (incl. process start)")
    client.initialized(lsp.InitializedParams())
    try:
        await asyncio.wait_for(indexed.wait(), timeout)
        last = statuses[-1]
        print(f"model: {last['model']['state']} ({last['model']['message']})")
        print(f"indexed in {time.perf_counter() - t0:.1f} s: {last['index']['files']} files, "
              f"{last['index']['symbols']} symbols, {last['index']['embeddings']} embeddings\n")
        await _completion(client, root, last["model"]["state"] == "ready")
        await _hover(client, root)
        await _search(client)
    finally:
        await client.shutdown_async(None)
        client.exit(None)
        await client.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


async def _completion(client: LanguageClient, root: Path, model_ready: bool) -> None:
    path = root / COMPLETION_FILE
    text = path.read_text() + COMPLETION_TEXT
    uri = path.as_uri()
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(uri, "python", 1, text)))
    lines = text.split("\n")
    pos = lsp.Position(len(lines) - 1, len(lines[-1]))
    t0 = time.perf_counter()
    result = await client.text_document_inline_completion_async(lsp.InlineCompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri), position=pos,
        context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Invoked)))
    ms = (time.perf_counter() - t0) * 1000
    print(f"== inline completion in {COMPLETION_FILE} after `def oldest_book(...)` ({ms:.0f} ms round trip)")
    items = result.items if isinstance(result, lsp.InlineCompletionList) else (result or [])
    if items:
        print("    " + items[0].insert_text.replace("\n", "\n    "))
    else:
        why = "the model gave nothing worth showing" if model_ready else "no model loaded"
        print(f"    (no suggestion: {why})")
    print()


async def _hover(client: LanguageClient, root: Path) -> None:
    rel, needle = HOVER_TARGET
    path = root / rel
    text = path.read_text()
    index = text.index(needle) + len("def ")
    line = text.count("\n", 0, index)
    col = index - text.rfind("\n", 0, index) - 1
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(path.as_uri(), "python", 1, text)))
    t0 = time.perf_counter()
    hover = await client.text_document_hover_async(lsp.HoverParams(
        lsp.TextDocumentIdentifier(path.as_uri()), lsp.Position(line, col)))
    ms = (time.perf_counter() - t0) * 1000
    print(f"== hover on `search_titles` in {rel} ({ms:.0f} ms round trip)")
    print("    " + (hover.contents.value.replace("\n", "\n    ") if hover else "(nothing)"))
    print()


async def _search(client: LanguageClient) -> None:
    for query in QUERIES:
        t0 = time.perf_counter()
        result = await client.workspace_symbol_async(lsp.WorkspaceSymbolParams(query=query))
        ms = (time.perf_counter() - t0) * 1000
        print(f"== workspace/symbol {query!r} ({ms:.0f} ms round trip)")
        for sym in (result or [])[:5]:
            rel = sym.location.uri.split("/workspace/", 1)[-1]
            print(f"    {sym.name:<22} {rel}:{sym.location.range.start.line + 1}")
        print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lsp_server.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("workspace", type=Path, nargs="?", default=Path("examples/workspace"),
                        help="workspace folder to open (copied to a temporary directory)")
    parser.add_argument("--model", metavar="BUNDLE", help="model bundle (default: the shipped bundle)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for indexing")
    args = parser.parse_args(argv)
    if not args.workspace.is_dir():
        print(f"error: {args.workspace} is not a directory", file=sys.stderr)
        return 2
    return asyncio.run(run_demo(args.workspace.resolve(), args.model, args.timeout))


if __name__ == "__main__":
    raise SystemExit(main())
