"""`codet5p-lsp`: the language server and a user CLI over the same engine.

    codet5p-lsp serve [--tcp HOST:PORT]          run the server (stdio by default)
    codet5p-lsp index ROOT                       build/update the workspace index
    codet5p-lsp search ROOT "query" [--json]     classic or natural-language symbol search
    codet5p-lsp complete FILE LINE COL [--json]  completion at a 1-based line/column
    codet5p-lsp hover FILE LINE COL [--json]     hover card (signature, docstring, summary)
    codet5p-lsp doctor                           check model, providers, grammars, index
    codet5p-lsp model ...                        model tools (delegates to `model.cli`)
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

log = logging.getLogger(__name__)

EXIT_WAIT_S = 20.0  # how long `serve` waits for a running model job (e.g. a load) at exit


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", metavar="BUNDLE", help="model bundle directory (default: the shipped bundle)")
    p.add_argument("--threads", type=int, default=None, help="ONNX Runtime intra-op threads")
    p.add_argument("--cache-dir", help="where indexes are kept (default: the user cache directory)")
    p.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"],
                   help="log level (logs go to stderr)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="codet5p-lsp", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="run the language server")
    p.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead of stdio (debugging)")
    p.add_argument("--log-file", help="log to this file instead of stderr")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"],
                   help="log level")
    p = sub.add_parser("index", help="build or update the index of ROOT")
    p.add_argument("root", type=Path, help="workspace folder")
    p.add_argument("--no-embed", action="store_true", help="symbols and FTS only, no embeddings")
    p.add_argument("--json", action="store_true", help="print a JSON report")
    _common(p)
    p = sub.add_parser("search", help="search the symbols of ROOT (indexes it first)")
    p.add_argument("root", type=Path, help="workspace folder")
    p.add_argument("query", help="an identifier (classic search) or a sentence (hybrid search)")
    p.add_argument("--limit", type=int, default=10, help="number of results")
    p.add_argument("--json", action="store_true", help="print JSON")
    _common(p)
    for name, what in (("complete", "complete the code at FILE:LINE:COL"),
                       ("hover", "describe the function/class at FILE:LINE:COL")):
        p = sub.add_parser(name, help=what)
        p.add_argument("file", type=Path, help="source file")
        p.add_argument("line", type=int, help="1-based line")
        p.add_argument("col", type=int, help="1-based column (characters)")
        p.add_argument("--json", action="store_true", help="print JSON")
        _common(p)
    p = sub.add_parser("doctor", help="check the model, ONNX Runtime providers, grammars and cache")
    _common(p)
    sub.add_parser("model", help="model tools (see `codet5p-lsp model --help`)", add_help=False)
    return parser


def _engine(args: argparse.Namespace, load: bool = True):
    from lsp_server.engine import Engine
    from lsp_server.options import ServerOptions
    options = ServerOptions()
    options.model.path = args.model
    options.model.threads = args.threads
    options.index.cache_dir = args.cache_dir
    engine = Engine(options)
    if load:
        state = engine.load_model()
        if state != "ready":
            print(f"warning: {engine.model_message}; running without the model", file=sys.stderr)
    return engine


def cmd_index(args: argparse.Namespace) -> int:
    if not args.root.is_dir():
        print(f"error: {args.root} is not a directory", file=sys.stderr)
        return 2
    engine = _engine(args, load=not args.no_embed)
    ix = engine.add_root(args.root)
    t0 = time.perf_counter()
    (report,) = engine.index_all()
    counts = ix.store.counts()
    out = {"root": str(ix.root), "index": str(ix.store.path), "files_seen": report.files_seen,
           "files_parsed": report.files_parsed, "files_removed": report.files_removed,
           "symbols_added": report.symbols_added, "embedded": report.embedded,
           "skipped": report.skipped, "seconds": round(time.perf_counter() - t0, 2), **counts}
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(f"indexed {ix.root}: {counts['files']} files, {counts['symbols']} symbols "
              f"({report.files_parsed} files parsed, {report.embedded} embedded) in {out['seconds']} s")
        print(f"index: {ix.store.path}")
        for reason in report.skipped[:10]:
            print(f"  skipped {reason}")
    engine.close()
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    if not args.root.is_dir():
        print(f"error: {args.root} is not a directory", file=sys.stderr)
        return 2
    engine = _engine(args)
    engine.add_root(args.root)
    engine.index_all()
    t0 = time.perf_counter()
    hits = engine.search(args.query, args.limit)
    ms = (time.perf_counter() - t0) * 1000
    results = [{"name": h.row["name"], "kind": h.row["kind"], "container": h.row["container"],
                "path": str(root / h.row["path"]), "line": h.row["name_line"] + 1,
                "signature": h.row["signature"], "score": round(h.score, 4), "sources": h.sources}
               for root, h in hits]
    if args.json:
        print(json.dumps({"query": args.query, "latency_ms": round(ms, 1), "results": results}, indent=2))
    else:
        for r in results:
            print(f"{r['path']}:{r['line']}: {r['kind']} {r['signature']}")
        print(f"{len(results)} results in {ms:.1f} ms", file=sys.stderr)
    engine.close()
    return 0


def _read_file(path: Path) -> tuple[str, str] | None:
    from lsp_server.files import FileRules, SkippedFile, read_source
    from lsp_server.languages import language_for_path
    language = language_for_path(path)
    if language is None:
        print(f"error: {path}: unsupported file type", file=sys.stderr)
        return None
    try:
        return read_source(path, None, FileRules(max_file_size=5_000_000)), language
    except SkippedFile as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


_FAILED = object()


def _at_position(args: argparse.Namespace, call: Callable[..., Any]) -> Any:
    """Read FILE, run `call(engine, text, line0, col0, language)`; `_FAILED` after an error line."""
    from lsp_server.textdoc import PositionError
    got = _read_file(args.file)
    if got is None:
        return _FAILED
    text, language = got
    engine = _engine(args)
    try:
        return call(engine, text, args.line - 1, args.col - 1, language)
    except PositionError as exc:
        print(f"error: {args.file}: {exc}", file=sys.stderr)
        return _FAILED
    finally:
        engine.close()


def cmd_complete(args: argparse.Namespace) -> int:
    result = _at_position(args, lambda engine, text, line, col, language: engine.complete(
        text, line, col, language, deadline=time.monotonic() + 30))
    if result is _FAILED:
        return 2
    if args.json:
        print(json.dumps({"completion": result.text, "latency_ms": round(result.latency_ms, 1),
                          "source": result.source, "mode": result.mode, "multiline": result.multiline}))
    else:
        print(result.text if result.text is not None else f"(no completion: {result.source})")
    return 0


def cmd_hover(args: argparse.Namespace) -> int:
    result = _at_position(args, lambda engine, text, line, col, language: engine.hover(
        text, line, col, language, args.file))
    if result is _FAILED:
        return 2
    if result is None:
        print(json.dumps(None) if args.json else "(nothing to describe here)")
        return 0
    if args.json:
        t = result.target
        print(json.dumps({"name": t.name, "kind": t.kind, "signature": t.signature,
                          "docstring": t.docstring, "summary": result.summary,
                          "latency_ms": round(result.latency_ms, 1), "markdown": result.markdown}))
    else:
        print(result.markdown)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from lsp_server.logs import setup_logging
    setup_logging(args.log_level, args.log_file)
    from lsp_server.server import server
    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        if not port.isdigit():
            print(f"error: --tcp expects HOST:PORT, got {args.tcp!r}", file=sys.stderr)
            return 2
        server.start_tcp(host or "127.0.0.1", int(port))
    else:
        from lsp_server.framing import BoundedStdin
        server.start_io(stdin=BoundedStdin(sys.stdin.buffer))
    if server.engine is not None:  # exiting while ONNX Runtime loads a model aborted the process
        server.engine.worker.shutdown()
        if not server.engine.worker.join(EXIT_WAIT_S):
            log.warning("the model thread is still busy after %.0f s; exiting anyway", EXIT_WAIT_S)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["model"]:
        from model.cli import main as model_main  # lazy: the model tools may need torch
        return int(model_main(argv[1:]) or 0)
    args = build_parser().parse_args(argv)
    if args.command != "serve":
        from lsp_server.logs import setup_logging
        setup_logging(args.log_level)
    if args.command == "doctor":
        from lsp_server.doctor import run_doctor
        return run_doctor(args)
    return {"serve": cmd_serve, "index": cmd_index, "search": cmd_search,
            "complete": cmd_complete, "hover": cmd_hover}[args.command](args)


if __name__ == "__main__":
    raise SystemExit(main())
