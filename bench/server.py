"""Server benchmark through a real LSP client over stdio.

    python bench/server.py [--model BUNDLE] [--stdlib-files N] [--out bench/results/server.json]

Measures (client round trips, so an upper bound of the server-side time):
- `initialize` (process start + imports + answer) and the server's own initialize handling;
- inline completion p50/p95 over distinct cursor positions (cache misses) and cache hits;
- hover p50/p95 over distinct functions (summary generated, cache cold);
- `workspace/symbol` p50/p95 on the example workspace and on a large index (the Python standard
  library, plus site-packages to pass 100k symbols), classic and natural-language queries;
- indexing throughput (symbols/s, parse + embed) on the standard library;
- server RSS after all of it (from /proc).
Without --model the shipped default bundle is used.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
EXAMPLE = REPO / "examples" / "workspace"
STATUS = "codet5p/status"
NL_QUERIES = ["read a file and parse json", "open a network socket connection", "compress data with gzip",
              "parse command line arguments", "format a date as a string", "compute a hash of bytes",
              "sort a list of items by key", "split text into lines", "create a temporary directory",
              "send an http request", "decode base64 data", "walk a directory tree"]
ID_QUERIES = ["urlopen", "TemporaryDirectory", "loads", "ArgumentParser", "sha256", "splitlines",
              "Popen", "getLogger", "dataclass", "OrderedDict", "b64decode", "walk"]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    if not values:
        return float("nan")
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return round(values[lo] + (values[hi] - values[lo]) * (k - lo), 1)


def summary(values: list[float]) -> dict:
    return {"n": len(values), "p50_ms": pct(values, 0.5), "p95_ms": pct(values, 0.95),
            "mean_ms": round(statistics.fmean(values), 1) if values else None}


def plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if hasattr(value, "__dict__") and not isinstance(value, (str, int, float)):
        return {k: plain(v) for k, v in vars(value).items()}
    return value


class Server:
    """One server process with a client attached."""

    def __init__(self) -> None:
        self.client = LanguageClient("codet5p-bench", "0.1")
        self.statuses: list[dict] = []
        self.event = asyncio.Event()

        @self.client.feature(STATUS)
        def on_status(params: Any) -> None:
            self.statuses.append(plain(params))
            self.event.set()

        @self.client.feature(lsp.WINDOW_SHOW_MESSAGE)
        def on_message(params: lsp.ShowMessageParams) -> None:
            print(f"  [server] {params.message}", file=sys.stderr)

        @self.client.feature(lsp.WINDOW_WORK_DONE_PROGRESS_CREATE)
        def on_create(params: Any) -> None:
            return None

        @self.client.feature(lsp.PROGRESS)
        def on_progress(params: Any) -> None:
            return None

    async def start(self, roots: list[Path], options: dict) -> float:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        t0 = time.perf_counter()
        await self.client.start_io(sys.executable, "-m", "lsp_server", "serve", "--log-level", "warning",
                                   env=env, cwd=str(REPO))
        caps = lsp.ClientCapabilities(window=lsp.WindowClientCapabilities(work_done_progress=True),
                                      text_document=lsp.TextDocumentClientCapabilities(
                                          inline_completion=lsp.InlineCompletionClientCapabilities()))
        await self.client.initialize_async(lsp.InitializeParams(
            capabilities=caps, root_uri=roots[0].as_uri(), initialization_options=options,
            workspace_folders=[lsp.WorkspaceFolder(r.as_uri(), r.name) for r in roots]))
        ms = (time.perf_counter() - t0) * 1000
        self.client.initialized(lsp.InitializedParams())
        return ms

    async def wait_indexed(self, timeout: float) -> tuple[dict, float]:
        t0 = time.perf_counter()
        seen_indexing = False
        end = time.monotonic() + timeout
        while True:
            for status in self.statuses:
                seen_indexing |= status["index"]["state"] == "indexing"
                if seen_indexing and status["index"]["state"] == "idle":
                    return status, time.perf_counter() - t0
            self.statuses.clear()
            self.event.clear()
            await asyncio.wait_for(self.event.wait(), max(1.0, end - time.monotonic()))

    async def status(self) -> dict:
        return plain(await self.client.protocol.send_request_async("codet5p/getStatus", {}))

    def rss_mb(self) -> float:
        pid = self.client._server.pid  # the server subprocess
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
        return float("nan")

    async def stop(self) -> None:
        await self.client.shutdown_async(None)
        self.client.exit(None)
        await self.client.stop()


def open_doc(client: LanguageClient, path: Path, text: str) -> str:
    uri = path.as_uri()
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(uri, "python", 1, text)))
    return uri


async def bench_workspace(model: str | None, tmp: Path, n: int) -> dict:
    root = tmp / "workspace"
    shutil.copytree(EXAMPLE, root)
    options: dict[str, Any] = {"index": {"cacheDir": str(tmp / "cache-ws")}, "completion": {"deadlineMs": 5000},
                               "hover": {"budgetMs": 5000}}
    if model:
        options["model"] = {"path": model}
    server = Server()
    init_ms = await server.start([root], options)
    status, _ = await server.wait_indexed(300)
    out: dict[str, Any] = {"initialize_roundtrip_ms": round(init_ms, 1), "model": status["model"]}
    out["initialize_server_ms"] = (await server.status())["initializeMs"]
    client = server.client
    # completion: distinct cursor positions inside real files (no cache hits)
    sources = sorted((root / "bookshelf").glob("*.py"))
    positions = []
    for path in sources:
        lines = path.read_text().split("\n")
        positions += [(path, i, len(lines[i])) for i in range(len(lines)) if lines[i].strip()]
    lat, hits = [], []
    for path, line, col in positions[:n]:
        uri = open_doc(client, path, path.read_text())
        params = lsp.InlineCompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri), position=lsp.Position(line, col),
            context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Invoked))
        t0 = time.perf_counter()
        await client.text_document_inline_completion_async(params)
        lat.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        await client.text_document_inline_completion_async(params)
        hits.append((time.perf_counter() - t0) * 1000)
    st = await server.status()
    out["completion"] = {**summary(lat), "server_p50_ms (last 20)": st["completionP50Ms"], "outcomes": st["completions"]}
    out["completion_cache_hit"] = summary(hits)
    # hover: each function once (cold summary cache)
    lat = []
    from lsp_server.symbols import extract_symbols
    for path in sorted(root.rglob("*.py")):
        text = path.read_text()
        uri = open_doc(client, path, text)
        for sym in extract_symbols(text, "python"):
            t0 = time.perf_counter()
            await client.text_document_hover_async(lsp.HoverParams(
                lsp.TextDocumentIdentifier(uri), lsp.Position(sym.name_line, sym.name_char + 1)))
            lat.append((time.perf_counter() - t0) * 1000)
    out["hover"] = summary(lat)
    out["search_small"] = await bench_search(client, ["read the configuration file", "fetch books",
                                                      "validate isbn", "lend a book"], ["Catalog", "fetchBooks"])
    out["rss_mb"] = server.rss_mb()
    await server.stop()
    return out


async def bench_search(client: LanguageClient, nl: list[str], ident: list[str], rounds: int = 3) -> dict:
    res: dict[str, Any] = {}
    for name, queries in (("natural_language", nl), ("identifier", ident)):
        lat = []
        for _ in range(rounds):
            for q in queries:
                t0 = time.perf_counter()
                await client.workspace_symbol_async(lsp.WorkspaceSymbolParams(query=q))
                lat.append((time.perf_counter() - t0) * 1000)
        res[name] = summary(lat)
    return res


async def bench_large(model: str | None, tmp: Path, stdlib_files: int, extra_files: int) -> dict:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    out: dict[str, Any] = {"stdlib": str(stdlib)}
    for label, rerank in (("rerank", True), ("no_rerank", False)):
        options: dict[str, Any] = {"index": {"cacheDir": str(tmp / "cache-big"), "maxFiles": stdlib_files,
                                             "exclude": ["site-packages/**"]},
                                   "search": {"rerank": rerank}}
        if model:
            options["model"] = {"path": model}
        roots = [stdlib]
        if extra_files:
            roots.append(Path(sysconfig.get_paths()["purelib"]))
        server = Server()
        await server.start(roots, options)
        status, seconds = await server.wait_indexed(3600)
        if label == "rerank":
            out["index"] = {"files": status["index"]["files"], "symbols": status["index"]["symbols"],
                            "embeddings": status["index"]["embeddings"], "seconds": round(seconds, 1),
                            "symbols_per_s": round(status["index"]["symbols"] / max(seconds, 1e-9), 1),
                            "note": "first run, empty cache: parse + FTS + embeddings",
                            "roots": [str(r) for r in roots]}
        if label == "no_rerank":
            out["index_restart_seconds"] = round(seconds, 1)  # unchanged files: nothing redone
        out[f"search_{label}"] = await bench_search(server.client, NL_QUERIES, ID_QUERIES, rounds=2)
        out[f"rss_mb_{label}"] = server.rss_mb()
        await server.stop()
    return out


def bench_scaled(index_file: Path, model: str | None, target: int, tmp: Path) -> dict:
    """Server-side (engine-level) search latency on an index grown to `target` symbols by
    duplicating the symbols of a real, fully embedded index under other paths (the duplicates
    share the original embeddings, so every symbol is searchable both ways)."""
    import sqlite3

    from lsp_server.engine import Engine, index_path
    from lsp_server.options import ServerOptions
    root = Path(sysconfig.get_paths()["stdlib"])
    options = ServerOptions()
    options.model.path, options.model.threads = model, None
    options.index.cache_dir = str(tmp / "cache-scaled")
    dest = index_path(root, options.index.cache_dir)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(index_file) as src, sqlite3.connect(dest) as dst:
        src.backup(dst)
    conn = sqlite3.connect(dest)
    base = conn.execute("SELECT count(*) FROM symbols").fetchone()[0]
    cols = [r[1] for r in conn.execute("PRAGMA table_info(symbols)") if r[1] != "id"]
    copy = 0
    while conn.execute("SELECT count(*) FROM symbols").fetchone()[0] < target:
        copy += 1
        sel = ", ".join(f"'copy{copy}/' || path" if c == "path" else c for c in cols)
        conn.execute(f"INSERT INTO symbols ({', '.join(cols)}) SELECT {sel} FROM symbols WHERE path NOT LIKE 'copy%'")
        conn.commit()
    total = conn.execute("SELECT count(*) FROM symbols").fetchone()[0]
    conn.close()
    engine = Engine(options)
    engine.load_model()
    engine.add_root(root)  # no scan: the index is used as it is
    engine.search("warm up the vectors")
    out: dict[str, Any] = {"symbols": total, "base_symbols": base}
    for label, rerank in (("rerank", True), ("no_rerank", False)):
        options.search.rerank = rerank
        lat = []
        for q in NL_QUERIES:
            t0 = time.perf_counter()
            engine.search(q)
            lat.append((time.perf_counter() - t0) * 1000)
        out[f"natural_language_{label}"] = summary(lat)
    lat = []
    for q in ID_QUERIES:
        t0 = time.perf_counter()
        engine.search(q)
        lat.append((time.perf_counter() - t0) * 1000)
    out["identifier"] = summary(lat)
    out["process_rss_mb"] = round(int(next(ln.split()[1] for ln in Path("/proc/self/status").read_text().splitlines()
                                           if ln.startswith("VmRSS:"))) / 1024, 1)
    engine.close()
    return out


async def main_async(args: argparse.Namespace) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="codet5p-bench-"))
    try:
        result: dict[str, Any] = {"host_cpus": os.cpu_count(), "model_arg": args.model}
        print("workspace benchmark ...", file=sys.stderr)
        result["workspace"] = await bench_workspace(args.model, tmp, args.completions)
        print(json.dumps(result["workspace"], indent=2), file=sys.stderr)
        if args.stdlib_files:
            print("large-index benchmark ...", file=sys.stderr)
            result["large"] = await bench_large(args.model, tmp, args.stdlib_files, args.site_packages)
            if args.scale_to:
                print(f"search at {args.scale_to} symbols ...", file=sys.stderr)
                (index_file,) = [p for p in (tmp / "cache-big" / "index").glob("python*.sqlite")]
                result["scaled"] = bench_scaled(index_file, args.model, args.scale_to, tmp)
        elif args.scaled_from:
            result["scaled"] = bench_scaled(args.scaled_from, args.model, args.scale_to, tmp)
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model bundle directory (default: the shipped bundle)")
    parser.add_argument("--completions", type=int, default=40, help="distinct completion positions")
    parser.add_argument("--stdlib-files", type=int, default=5000,
                        help="max files of the standard library to index (0: skip the large-index part)")
    parser.add_argument("--site-packages", type=int, default=0,
                        help="1: also index site-packages (to pass 100k symbols); 0: stdlib only")
    parser.add_argument("--scale-to", type=int, default=100_000,
                        help="after the large index, time engine-level search with the index grown to N symbols")
    parser.add_argument("--scaled-from", type=Path,
                        help="with --stdlib-files 0: an existing embedded index file to grow and time")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "server.json",
                        help="where to write the JSON results")
    args = parser.parse_args()
    result = asyncio.run(main_async(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
