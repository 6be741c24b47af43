"""A real `codet5p-lsp serve` subprocess driven by the pytest-lsp client over stdio: client
capabilities, starting and stopping a session, waiting for `codet5p/status` notifications.

Shared by the end-to-end tests (`tests/lsp`, `tests/stress`) and `bench/stress.py`; the server
is pointed at a bundle through `initializationOptions.model.path` and keeps its index cache
where `server_options` says.
"""
from __future__ import annotations

import asyncio
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from lsprotocol import types as lsp
from pytest_lsp import LanguageClient
from pytest_lsp.client import make_test_lsp_client

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "workspace"
STATUS = "codet5p/status"


def capabilities(inline: bool = True, progress: bool = True, resolve: bool = True,
                 watch: bool = True) -> lsp.ClientCapabilities:
    """A modern editor's capabilities (switches to test the fallbacks)."""
    td = lsp.TextDocumentClientCapabilities(
        synchronization=lsp.TextDocumentSyncClientCapabilities(did_save=True),
        hover=lsp.HoverClientCapabilities(content_format=[lsp.MarkupKind.Markdown]),
        completion=lsp.CompletionClientCapabilities(),
        code_action=lsp.CodeActionClientCapabilities(
            resolve_support=lsp.ClientCodeActionResolveOptions(properties=["edit"]) if resolve else None),
        inline_completion=lsp.InlineCompletionClientCapabilities() if inline else None)
    return lsp.ClientCapabilities(
        text_document=td,
        window=lsp.WindowClientCapabilities(work_done_progress=progress),
        workspace=lsp.WorkspaceClientCapabilities(
            did_change_watched_files=lsp.DidChangeWatchedFilesClientCapabilities(dynamic_registration=watch),
            workspace_folders=True))


@dataclass
class Session:
    """A started server and what it sent us."""

    client: LanguageClient
    root: Path
    init: lsp.InitializeResult
    init_seconds: float
    statuses: list[dict] = field(default_factory=list)
    registrations: list[lsp.Registration] = field(default_factory=list)
    options: dict = field(default_factory=dict)

    def uri(self, rel: str) -> str:
        return (self.root / rel).resolve().as_uri()

    async def wait_status(self, predicate: Callable[[dict], bool], timeout: float = 60, start: int = 0) -> dict:
        """The first `codet5p/status` (past or future, from the `start`-th on) satisfying `predicate`."""
        end = time.monotonic() + timeout
        seen = start
        while True:
            for status in self.statuses[seen:]:
                if predicate(status):
                    return status
            seen = len(self.statuses)
            if time.monotonic() >= end:
                raise AssertionError(f"no matching status within {timeout}s; got {self.statuses[-3:]}")
            # polled: waiting for "the next status" missed one that arrived before the wait task
            # was registered, and then hung while the server had nothing more to say
            await asyncio.sleep(0.02)

    async def wait_indexed(self, timeout: float = 60) -> dict:
        """Wait for the first full indexing run (with embeddings when a model is ready)."""
        began = await self.wait_status(lambda s: s["index"]["state"] == "indexing", timeout)
        after = next(i for i, s in enumerate(self.statuses) if s is began) + 1  # not an idle from before
        return await self.wait_status(
            lambda s: s["index"]["state"] == "idle" and s["model"]["state"] not in ("loading", "unloaded"),
            timeout, start=after)

    async def status(self) -> dict:
        return _plain(await self.client.protocol.send_request_async("codet5p/getStatus", {}))

    def open(self, rel: str, text: str | None = None, language_id: str = "python", version: int = 1) -> str:
        uri = self.uri(rel)
        if text is None:
            text = (self.root / rel).read_text("utf-8")
        self.client.text_document_did_open(lsp.DidOpenTextDocumentParams(
            lsp.TextDocumentItem(uri=uri, language_id=language_id, version=version, text=text)))
        return uri


async def start_session(root: Path, options: dict[str, Any],
                        caps: lsp.ClientCapabilities | None = None,
                        launcher: Sequence[str] = ("-m", "lsp_server"),
                        env_extra: dict[str, str] | None = None) -> Session:
    """Start the server (`python LAUNCHER serve`) and initialize it on `root`."""
    client = make_test_lsp_client()
    statuses: list[dict] = []
    registrations: list[lsp.Registration] = []

    @client.feature(STATUS)
    def on_status(ls: LanguageClient, params: Any) -> None:
        statuses.append(_plain(params))

    @client.feature(lsp.CLIENT_REGISTER_CAPABILITY)
    def on_register(ls: LanguageClient, params: lsp.RegistrationParams) -> None:
        registrations.extend(params.registrations)

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           **(env_extra or {})}
    await client.start_io(sys.executable, *launcher, "serve", "--log-level", "info",
                          cwd=str(REPO), env=env)
    t0 = time.perf_counter()
    init = await client.initialize_session(lsp.InitializeParams(
        capabilities=caps or capabilities(), root_uri=root.resolve().as_uri(),
        workspace_folders=[lsp.WorkspaceFolder(uri=root.resolve().as_uri(), name=root.name)],
        initialization_options=options))
    return Session(client, root, init, time.perf_counter() - t0, statuses, registrations, options)


def _plain(value: Any) -> Any:
    """pygls hands custom notification params over as attrs objects / namedtuples; make dicts."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return [_plain(v) for v in value]
    if hasattr(value, "_asdict"):
        return {k: _plain(v) for k, v in value._asdict().items()}
    if hasattr(value, "__dict__") and not isinstance(value, (str, int, float, bool)):
        return {k: _plain(v) for k, v in vars(value).items()}
    return value


async def stop_session(session: Session) -> None:
    try:
        await asyncio.wait_for(session.client.shutdown_session(), 20)
    finally:
        await session.client.stop()


def server_options(bundle: Path | str | None, cache: Path, **extra: Any) -> dict:
    options: dict[str, Any] = {"model": {"path": str(bundle) if bundle else None, "threads": 1},
                               "index": {"cacheDir": str(cache)}}
    for key, value in extra.items():
        options.setdefault(key, {}).update(value)
    return options
