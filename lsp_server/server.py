"""The pygls language server: LSP handlers only; the work happens in `lsp_server.engine`.

Methods: `textDocument/inlineCompletion` (advertised with `InlineCompletionOptions`),
`textDocument/completion` (fallback for clients without inline completion), `textDocument/hover`,
`textDocument/codeAction` + `codeAction/resolve` ("Generate docstring"), `workspace/symbol`,
document sync and `workspace/didChangeWatchedFiles` for incremental indexing,
`workspace/didChangeConfiguration`, and the custom `codet5p/status` notification (plus the
`codet5p/getStatus` request). Every engine call runs in a thread pool, never on the event loop.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer

from lsp_server import __version__
from lsp_server.convert import hit_to_symbol, insertion_edit, uri_to_path
from lsp_server.engine import Engine
from lsp_server.files import FileRules, SkippedFile, read_source
from lsp_server.languages import language_for
from lsp_server.options import ServerOptions, parse_options
from lsp_server.protocol import CodeT5pProtocol
from lsp_server.textdoc import PositionError, word_before

log = logging.getLogger(__name__)

STATUS = "codet5p/status"
GET_STATUS = "codet5p/getStatus"
DOCSTRING_TITLE = "Generate docstring"


class CodeT5pServer(LanguageServer):
    """Server state: options, the engine, open-document bookkeeping."""

    def __init__(self) -> None:
        super().__init__("codet5p-lsp", __version__, protocol_cls=CodeT5pProtocol)
        self.options = ServerOptions()
        self.engine: Engine | None = None
        self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="codet5p-req")
        self.loop: asyncio.AbstractEventLoop | None = None
        self.pending_messages: list[tuple[lsp.MessageType, str]] = []
        self.told_model_problem = False
        self.last_edit_deleted: dict[str, bool] = {}
        self.index_cancel = threading.Event()
        self.index_lock = threading.Lock()
        self.reindex_handles: dict[str, asyncio.TimerHandle] = {}
        self.root_paths: list[Path] = []
        self.initialize_ms = 0.0

    def report_server_error(self, error: Exception, source: Any) -> None:
        """Malformed messages were answered with an error already: log, do not pop up."""
        if source is JsonRpcException:
            log.warning("bad message from the client: %s", error)
            return
        super().report_server_error(error, source)

    # -- helpers used by the handlers ---------------------------------------------------------
    def run(self, fn: Callable, *args: Any) -> asyncio.Future:
        return asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    def call_soon(self, fn: Callable, *args: Any) -> None:
        """Run `fn` on the event loop (safe from any thread)."""
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(fn, *args)

    def message(self, kind: lsp.MessageType, text: str) -> None:
        self.window_show_message(lsp.ShowMessageParams(type=kind, message=f"CodeT5+: {text}"))

    def send_status(self, status: dict) -> None:
        def send() -> None:
            self.protocol.notify(STATUS, status)
            state = status["model"]["state"]
            if state in ("missing", "error") and not self.told_model_problem:
                self.told_model_problem = True
                self.message(lsp.MessageType.Warning,
                             f"{status['model']['message']}. Search falls back to lexical; "
                             "completions and generated summaries are off.")
        self.call_soon(send)

    def document(self, uri: str) -> tuple[str, str, Path | None] | None:
        """(text, language, path) of an open document or a workspace file; None otherwise."""
        path = uri_to_path(uri)
        doc = self.workspace.text_documents.get(uri)
        if doc is not None:
            language = language_for(uri, doc.language_id)
            return (doc.source, language, path) if language else None
        if path is None or self.engine is None or self.engine.indexer_for(path) is None:
            return None  # never read files outside the workspace folders
        language = language_for(uri)
        if language is None:
            return None
        ix = self.engine.indexer_for(path)
        try:
            return read_source(path, ix.root, FileRules(self.options.index.max_file_size)), language, path
        except SkippedFile as exc:
            log.info("%s", exc)
            return None

    def roots(self, params: lsp.InitializeParams) -> list[Path]:
        uris = [f.uri for f in params.workspace_folders or []] or ([params.root_uri] if params.root_uri else [])
        paths = [uri_to_path(u) for u in uris]
        if not paths and params.root_path:
            paths = [Path(params.root_path)]
        return [p for p in paths if p is not None and p.is_dir()]

    def supports_inline(self) -> bool:
        td = self.client_capabilities.text_document
        return td is not None and td.inline_completion is not None


server = CodeT5pServer()


def _apply_options(ls: CodeT5pServer, raw: Any) -> None:
    options, problems = parse_options(raw)
    ls.options = options
    for problem in problems:
        ls.pending_messages.append((lsp.MessageType.Warning, f"option {problem}"))
    if options.log.level:
        logging.getLogger("lsp_server").setLevel(options.log.level.upper())
    if options.log.file:
        from lsp_server.logs import add_file_handler
        add_file_handler(options.log.file)


@server.feature(lsp.INITIALIZE)
def initialize(ls: CodeT5pServer, params: lsp.InitializeParams) -> None:
    """Only options and roots here; model, index and watchers start after `initialized`."""
    t0 = time.perf_counter()
    ls.loop = asyncio.get_event_loop()
    _apply_options(ls, params.initialization_options)
    ls.engine = Engine(ls.options, on_status=ls.send_status)
    ls.root_paths = ls.roots(params) if ls.options.index.enabled else []
    ls.initialize_ms = (time.perf_counter() - t0) * 1000


def _open_roots(ls: CodeT5pServer) -> None:
    for root in ls.root_paths:
        try:
            ls.engine.add_root(root)
        except Exception as exc:
            log.exception("cannot open the index for %s", root)
            ls.call_soon(ls.message, lsp.MessageType.Error, f"cannot index {root}: {exc}")


@server.feature(lsp.INITIALIZED)
async def initialized(ls: CodeT5pServer, params: lsp.InitializedParams) -> None:
    for kind, text in ls.pending_messages:
        ls.message(kind, text)
    ls.pending_messages.clear()
    ls.engine.start_model_load()
    await ls.run(_open_roots, ls)
    await _watch_files(ls)
    if ls.engine.indexers:
        asyncio.ensure_future(_index_in_background(ls))


async def _watch_files(ls: CodeT5pServer) -> None:
    ws = ls.client_capabilities.workspace
    dyn = ws and ws.did_change_watched_files and ws.did_change_watched_files.dynamic_registration
    if not dyn:
        return
    glob = "**/*.{py,pyi,js,mjs,cjs,jsx,ts,mts,cts,tsx,go,java,rs}"
    opts = lsp.DidChangeWatchedFilesRegistrationOptions(
        watchers=[lsp.FileSystemWatcher(glob_pattern=glob), lsp.FileSystemWatcher(glob_pattern="**/.gitignore")])
    try:
        await ls.client_register_capability_async(lsp.RegistrationParams(registrations=[
            lsp.Registration(id=str(uuid.uuid4()), method=lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                             register_options=opts)]))
    except Exception as exc:  # the client may refuse; indexing on save still works
        log.info("file watcher registration refused: %s", exc)


async def _index_in_background(ls: CodeT5pServer) -> None:
    """Full scan + embedding with `$/progress` (cancellable from the client)."""
    token = f"codet5p-index-{uuid.uuid4()}"
    window = ls.client_capabilities.window
    progress = bool(window and window.work_done_progress)
    cancel = ls.index_cancel = threading.Event()  # a fresh run is not cancelled by an old one
    if progress:
        try:
            await ls.work_done_progress.create_async(token)
            ls.work_done_progress.begin(token, lsp.WorkDoneProgressBegin(
                title="CodeT5+ indexing", cancellable=True, message="scanning", percentage=0))
            ls.work_done_progress.tokens[token].add_done_callback(lambda f: cancel.set())
        except Exception as exc:
            log.info("no work-done progress: %s", exc)
            progress = False

    def report(done: int, total: int, text: str) -> None:
        if progress:
            pct = int(100 * done / total) if total else 100
            ls.call_soon(ls.work_done_progress.report, token,
                         lsp.WorkDoneProgressReport(message=text, percentage=pct, cancellable=True))

    def work() -> str:
        with ls.index_lock:
            reports = ls.engine.index_all(cancel, report)
        files = sum(r.files_seen for r in reports)
        symbols = sum(r.symbols_added for r in reports)
        state = "cancelled" if any(r.cancelled for r in reports) else "done"
        return f"{state}: {files} files, {symbols} new symbols, {sum(r.embedded for r in reports)} embedded"

    try:
        summary = await ls.run(work)
    except Exception as exc:
        log.exception("indexing failed")
        summary = f"failed: {exc}"
        ls.message(lsp.MessageType.Error, f"indexing failed: {exc}. Search uses what was indexed before.")
    if progress:
        ls.work_done_progress.end(token, lsp.WorkDoneProgressEnd(message=summary))
    log.info("indexing %s", summary)


def _reindex_document(ls: CodeT5pServer, uri: str, from_disk: bool) -> None:
    """Incremental update of one file, then embeddings for its new symbols (off the loop)."""
    path = uri_to_path(uri)
    engine = ls.engine
    ix = engine.indexer_for(path) if (engine and path) else None
    if ix is None:
        return

    def work() -> None:
        if from_disk:
            if path.exists():
                ix.index_file(path)
            else:
                ix.remove(path)
        else:
            doc = ls.workspace.text_documents.get(uri)
            if doc is not None:
                ix.update_text(path, doc.source)
        engine.embed_pending(ix)

    future = ls.pool.submit(work)
    future.add_done_callback(lambda f: f.exception() and log.warning("reindex %s: %s", uri, f.exception()))


def _schedule_reindex(ls: CodeT5pServer, uri: str, delay: float = 0.5) -> None:
    handle = ls.reindex_handles.pop(uri, None)
    if handle is not None:
        handle.cancel()
    ls.reindex_handles[uri] = asyncio.get_running_loop().call_later(
        delay, _reindex_document, ls, uri, False)


@server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
async def did_open(ls: CodeT5pServer, params: lsp.DidOpenTextDocumentParams) -> None:
    _schedule_reindex(ls, params.text_document.uri, 0.05)


@server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
async def did_change(ls: CodeT5pServer, params: lsp.DidChangeTextDocumentParams) -> None:
    deleted = any(isinstance(c, lsp.TextDocumentContentChangePartial) and not c.text
                  for c in params.content_changes)
    ls.last_edit_deleted[params.text_document.uri] = deleted
    _schedule_reindex(ls, params.text_document.uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
async def did_save(ls: CodeT5pServer, params: lsp.DidSaveTextDocumentParams) -> None:
    _reindex_document(ls, params.text_document.uri, from_disk=True)


@server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
async def did_close(ls: CodeT5pServer, params: lsp.DidCloseTextDocumentParams) -> None:
    ls.last_edit_deleted.pop(params.text_document.uri, None)
    _reindex_document(ls, params.text_document.uri, from_disk=True)


@server.feature(lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES)
async def did_change_watched_files(ls: CodeT5pServer, params: lsp.DidChangeWatchedFilesParams) -> None:
    for change in params.changes:
        if change.uri.endswith("/.gitignore"):
            asyncio.ensure_future(_index_in_background(ls))
            return
        if change.uri not in ls.workspace.text_documents:
            _reindex_document(ls, change.uri, from_disk=True)


@server.feature(lsp.WORKSPACE_DID_CHANGE_CONFIGURATION)
async def did_change_configuration(ls: CodeT5pServer, params: lsp.DidChangeConfigurationParams) -> None:
    old_model = ls.options.model
    _apply_options(ls, params.settings)
    for kind, text in ls.pending_messages:
        ls.message(kind, text)
    ls.pending_messages.clear()
    engine = ls.engine
    engine.options = ls.options
    if ls.options.model != old_model:
        engine.runtime, engine._model_future, ls.told_model_problem = None, None, False
        engine.start_model_load()


@server.feature(lsp.TEXT_DOCUMENT_INLINE_COMPLETION, lsp.InlineCompletionOptions())
async def inline_completion(ls: CodeT5pServer, params: lsp.InlineCompletionParams) -> lsp.InlineCompletionList | None:
    uri, pos = params.text_document.uri, params.position
    automatic = params.context.trigger_kind == lsp.InlineCompletionTriggerKind.Automatic
    if not ls.options.completion.enabled or (automatic and ls.last_edit_deleted.get(uri)):
        return None  # never suggest right after a deletion
    text = await _complete(ls, uri, pos)
    if text is None:
        return None
    return lsp.InlineCompletionList(items=[lsp.InlineCompletionItem(
        insert_text=text, range=lsp.Range(pos, pos))])


@server.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=[".", "(", " "]))
async def completion(ls: CodeT5pServer, params: lsp.CompletionParams) -> lsp.CompletionList | None:
    if ls.supports_inline() or not ls.options.completion.enabled:
        return None  # inline-capable clients get ghost text instead
    uri, pos = params.text_document.uri, params.position
    got = ls.document(uri)
    text = await _complete(ls, uri, pos)
    if text is None or got is None:
        return lsp.CompletionList(is_incomplete=True, items=[])
    line = got[0].split("\n")[pos.line] if pos.line < got[0].count("\n") + 1 else ""
    word = word_before(line[: pos.character])
    start = lsp.Position(pos.line, pos.character - len(word))
    label = (word + text).split("\n", 1)[0].strip()[:60] or text.strip()[:60]
    item = lsp.CompletionItem(
        label=label, kind=lsp.CompletionItemKind.Snippet, detail="CodeT5+", sort_text="0000",
        filter_text=word + text, insert_text_format=lsp.InsertTextFormat.PlainText,
        text_edit=lsp.TextEdit(lsp.Range(start, pos), word + text),
        documentation=lsp.MarkupContent(lsp.MarkupKind.Markdown, f"```\n{word + text}\n```"))
    return lsp.CompletionList(is_incomplete=True, items=[item])


async def _complete(ls: CodeT5pServer, uri: str, pos: lsp.Position) -> str | None:
    got = ls.document(uri)
    if got is None:
        return None
    text, language, _ = got
    engine = ls.engine
    ticket = engine.ticket(uri)
    deadline = time.monotonic() + ls.options.completion.deadline_ms / 1000
    try:
        result = await asyncio.wait_for(
            ls.run(engine.complete, text, pos.line, pos.character, language, uri, ticket, deadline),
            timeout=ls.options.completion.deadline_ms / 1000 + 0.5)
    except PositionError as exc:
        log.info("completion %s: %s", uri, exc)
        return None
    except (asyncio.TimeoutError, TimeoutError):  # over the deadline: no suggestion, not an error
        engine.ticket(uri) if engine.is_current(uri, ticket) else None  # stale the queued job
        log.info("completion %s %d:%d over the %d ms deadline", uri, pos.line, pos.character,
                 ls.options.completion.deadline_ms)
        return None
    except asyncio.CancelledError:
        engine.ticket(uri) if engine.is_current(uri, ticket) else None  # stale the queued job
        raise
    log.info("completion %s %d:%d %s %.0f ms", uri, pos.line, pos.character, result.source, result.latency_ms)
    return result.text


@server.feature(lsp.TEXT_DOCUMENT_HOVER)
async def hover(ls: CodeT5pServer, params: lsp.HoverParams) -> lsp.Hover | None:
    got = ls.document(params.text_document.uri)
    if got is None:
        return None
    text, language, path = got
    pos = params.position
    try:
        result = await ls.run(ls.engine.hover, text, pos.line, pos.character, language, path)
    except PositionError as exc:
        log.info("hover: %s", exc)
        return None
    if result is None:
        return None
    rng = None
    if result.range:
        l0, c0, l1, c1 = result.range
        rng = lsp.Range(lsp.Position(l0, c0), lsp.Position(l1, c1))
    log.info("hover %s %.0f ms", params.text_document.uri, result.latency_ms)
    return lsp.Hover(contents=lsp.MarkupContent(lsp.MarkupKind.Markdown, result.markdown), range=rng)


@server.feature(lsp.TEXT_DOCUMENT_CODE_ACTION, lsp.CodeActionOptions(
    code_action_kinds=[lsp.CodeActionKind.RefactorRewrite], resolve_provider=True))
async def code_action(ls: CodeT5pServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction] | None:
    uri, pos = params.text_document.uri, params.range.start
    got = ls.document(uri)
    if got is None:
        return None
    from lsp_server.docstring import documentable_symbol
    try:
        sym = await ls.run(documentable_symbol, got[0], got[1], pos.line, pos.character)
    except PositionError:
        return None
    if sym is None:
        return None
    action = lsp.CodeAction(title=DOCSTRING_TITLE, kind=lsp.CodeActionKind.RefactorRewrite,
                            data={"uri": uri, "line": pos.line, "character": pos.character})
    caps = ls.client_capabilities.text_document
    lazy = caps and caps.code_action and caps.code_action.resolve_support and \
        "edit" in caps.code_action.resolve_support.properties
    return [action if lazy else await resolve_code_action(ls, action)]


@server.feature(lsp.CODE_ACTION_RESOLVE)
async def resolve_code_action(ls: CodeT5pServer, action: lsp.CodeAction) -> lsp.CodeAction:
    data = action.data if isinstance(action.data, dict) else {}  # the client echoes it back: any JSON
    if not isinstance(data.get("uri"), str):
        return action
    got = ls.document(data["uri"])
    if got is None:
        return action
    try:
        ins = await ls.run(ls.engine.docstring, got[0], int(data["line"]), int(data["character"]), got[1])
    except (PositionError, KeyError, TypeError, ValueError) as exc:
        log.info("docstring action: %s", exc)
        return action
    if ins is not None:
        action.edit = insertion_edit(data["uri"], ins)
    return action


@server.feature(lsp.WORKSPACE_SYMBOL)
async def workspace_symbol(ls: CodeT5pServer, params: lsp.WorkspaceSymbolParams) -> list[lsp.WorkspaceSymbol]:
    t0 = time.perf_counter()
    hits = await ls.run(ls.engine.search, params.query)
    log.info("workspace/symbol %r: %d hits in %.0f ms", params.query, len(hits), (time.perf_counter() - t0) * 1000)
    return [hit_to_symbol(root, hit) for root, hit in hits]


@server.feature(GET_STATUS)
async def get_status(ls: CodeT5pServer, params: Any) -> dict:
    status = await ls.run(ls.engine.status)
    return {**status, "initializeMs": round(ls.initialize_ms, 2)}


@server.feature(lsp.SHUTDOWN)
def shutdown(ls: CodeT5pServer, params: Any) -> None:
    ls.index_cancel.set()
    if ls.engine is not None:
        ls.engine.worker.shutdown()

