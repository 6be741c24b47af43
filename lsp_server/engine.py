"""The engine behind the server and the CLI: model, workspace indexes and the four features.

Everything here is synchronous and thread-safe. Model calls run on one `ModelWorker` thread
(interactive first, indexing batches in the background); the feature methods (`complete`,
`hover`, `search`, `docstring`) block until done and are meant to be called from a thread that is
not the event loop. The model loads lazily (`start_model_load`), so `initialize` is instant;
if the bundle is missing or corrupt, the engine keeps working: search is lexical only, hover
has no generated summary, completion returns nothing.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import statistics
import threading
import time
from collections import Counter, OrderedDict, deque
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from lsp_server import completion as comp
from lsp_server.completion_cache import CompletionCache
from lsp_server.docstring import Insertion, docstring_edit, documentable_symbol
from lsp_server.files import FileRules, is_inside
from lsp_server.hover import HoverTarget, render_markdown, resolve_target
from lsp_server.indexer import EMBED_TOKENS, CancelFlag, Indexer, IndexReport, embedding_key
from lsp_server.memory import release_free_memory
from lsp_server.options import ServerOptions
from lsp_server.search import (RERANK_CODE_TOKENS, NameIndex, SearchHit, VectorIndex, classic_search,
                               hybrid_search, is_identifier_query, lexical_weight_of, likelihood_rerank_of,
                               rerank_useful, semantic_search_useful)
from lsp_server.store import Store
from lsp_server.worker import BACKGROUND, INTERACTIVE, SEARCH, ModelWorker

log = logging.getLogger(__name__)

CACHE_ENV = "CODET5P_LSP_CACHE_DIR"
QUERY_CACHE_SIZE = 256  # natural-language query embeddings kept
EMBED_POLL_S = 0.5  # how often new symbols are embedded during a scan
RERANK_BUDGET_S = 4.0  # a likelihood re-rank not done by then is dropped (the fused order stays)
RERANK_CODE_CHARS = 4000  # of each candidate's code (its summary prompt reads 128 tokens of it)
MAX_WINDOWS = 256  # documents whose completion prompt window is remembered


def cache_dir(configured: str | None = None) -> Path:
    """Where indexes live: the option, `$CODET5P_LSP_CACHE_DIR`, or the user cache directory."""
    if configured:
        return Path(configured).expanduser()
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    import platformdirs
    return Path(platformdirs.user_cache_dir("codet5p-lsp"))


def index_path(root: Path, configured: str | None = None) -> Path:
    digest = hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:12]
    return cache_dir(configured) / "index" / f"{root.resolve().name or 'root'}-{digest}.sqlite"


@dataclass
class CompletionResult:
    text: str | None
    latency_ms: float
    source: str  # "model", "cache", "superseded", "deadline", "loading", "no-model"
    mode: str = ""
    multiline: bool = False


@dataclass
class HoverResult:
    markdown: str
    target: HoverTarget
    summary: str | None
    latency_ms: float
    range: tuple[int, int, int, int] | None


class _AnySet:
    """A cancel flag that is set when any of the given events is."""

    def __init__(self, *events: threading.Event | None) -> None:
        self.events = [e for e in events if e is not None]

    def is_set(self) -> bool:
        return any(e.is_set() for e in self.events)


def _prompt_cache_stats(rt: Any) -> dict[str, Any] | None:
    """The runtime's completion prompt cache (entries, bytes, tokens reused), if it keeps one."""
    cache = getattr(rt, "prefix_cache", None)
    return cache.stats() if cache is not None else None


def _draft_stats(rt: Any) -> dict[str, Any] | None:
    """Drafted decoding's counts (verification calls, tokens proposed and accepted), if any."""
    stats = getattr(rt, "draft_stats", None)
    return stats.as_dict() if stats is not None else None


def _summary_result(text: str) -> tuple[str | None, str]:
    return (text, "") if text else (None, "the model produced no usable summary")


class Engine:
    """One per server process (or CLI invocation)."""

    def __init__(self, options: ServerOptions,
                 on_status: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.options = options
        self.on_status = on_status or (lambda status: None)
        self.worker = ModelWorker()
        self.runtime: Any = None
        self.model_state = "unloaded"  # unloaded | loading | ready | missing | error
        self.model_message = ""
        self.model_id = ""
        self.resolved_model_path: Path | None = None  # set by the model thread once resolved
        self.semantic = True  # False when the bundle's recorded evaluation ranks below BM25
        self.rerank = True  # False when its recorded matching re-rank ranks below its embedding
        self.rerank_counts: dict[str, int] = {"likelihood": 0, "skipped": 0}
        self._model_future: Future | None = None
        self.indexers: list[Indexer] = []
        self.vectors: dict[Path, VectorIndex] = {}
        self.names: dict[Path, NameIndex] = {}
        self.cache = CompletionCache(options.completion.cache_size)
        self._tickets: dict[str, int] = {}
        self._windows: OrderedDict[str, int] = OrderedDict()  # doc -> its last prompt window's first line
        self._tickets_lock = threading.Lock()
        self._latencies: deque[float] = deque(maxlen=20)
        self._deadline_misses: deque[bool] = deque(maxlen=20)
        self.slow = False
        self.index_state = "idle"
        self._summaries: dict[str, str] = {}
        self.completion_counts: Counter[str] = Counter()  # outcome -> requests (local statistics)
        self.inflight = 0  # completion requests being computed now
        self._query_vectors: OrderedDict[tuple[str, str], Any] = OrderedDict()

    # ---- model ------------------------------------------------------------------------------
    def model_path(self) -> Path | None:
        """The configured bundle, or the shipped default (which may unpack its archive on first
        use: call this off the event loop)."""
        if self.options.model.path:
            return Path(self.options.model.path).expanduser()
        try:
            from model.runtime import default_bundle_dir
        except ImportError as exc:
            log.warning("model runtime unavailable: %s", exc)
            return None
        return default_bundle_dir()

    def start_model_load(self) -> Future:
        """Load the bundle on the model thread (once); the future resolves to the state."""
        if self._model_future is None:
            self.model_state = "loading"
            self._model_future = self.worker.submit(self._load_model, priority=INTERACTIVE)
            self.emit_status()
        return self._model_future

    def load_model(self) -> str:
        """Blocking load; returns the model state."""
        return self.start_model_load().result()

    def _load_model(self) -> str:
        try:
            from model.runtime import BundleError, Runtime
            path = self.resolved_model_path = self.model_path()
        except (ImportError, ValueError, OSError) as exc:  # BundleError is a ValueError
            self.model_state, self.model_message = "error", f"cannot load the model: {exc}"
            self.emit_status()
            return self.model_state
        if path is None or not path.exists():
            self.model_state = "missing"
            self.model_message = f"model bundle not found at {path}"
        else:
            try:
                opts = self.options.model
                self.runtime = Runtime.load(path, threads=opts.threads, device=opts.device,
                                            precision=opts.precision)
                manifest = json.dumps(self.runtime.manifest, sort_keys=True, default=str)
                self.model_id = hashlib.sha1(manifest.encode()).hexdigest()[:16]
                self.model_state = "ready"
                self.model_message = f"model loaded from {path}"
                self.semantic = semantic_search_useful(self.runtime.manifest)
                self.rerank = rerank_useful(self.runtime.manifest)
                if not self.semantic:
                    self.model_message += ("; its recorded retrieval evaluation ranks below BM25, "
                                           "so search uses the lexical index only")
                note = getattr(self.runtime, "decoder_message", "")
                if note:  # a smol bundle whose decoder is not built (or unusable): search only
                    self.model_message += f"; {note}"
            except (BundleError, OSError, ValueError, RuntimeError) as exc:
                self.model_state, self.model_message = "error", f"model bundle {path} is unusable: {exc}"
            except Exception as exc:  # e.g. an ONNX Runtime error type; the server must keep running
                log.exception("unexpected error loading %s", path)
                self.model_state, self.model_message = "error", f"model bundle {path} is unusable: {exc!r}"
        log.info("%s", self.model_message)
        self.emit_status()
        return self.model_state

    @property
    def ready(self) -> bool:
        return self.model_state == "ready" and self.runtime is not None

    # ---- status -----------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        rt = self.runtime
        counts = {"files": 0, "symbols": 0, "embeddings": 0}
        for ix in self.indexers:
            try:
                for k, v in ix.store.counts().items():
                    counts[k] += v
            except Exception as exc:  # status must never fail
                log.debug("counts failed: %s", exc)
        p50 = statistics.median(self._latencies) if self._latencies else None
        vectors = list(self.vectors.values())
        counts["vectorsLoaded"] = sum(len(v) for v in vectors)  # in memory, for sentence search
        counts["vectorBytes"] = sum(v.nbytes for v in vectors)
        return {
            "model": {"state": self.model_state, "message": self.model_message,
                      "path": str(self.resolved_model_path or self.options.model.path or ""),
                      "embedding": bool(rt and rt.has_embedding),
                      "matching": bool(rt and rt.has_matching),
                      "decoder": bool(rt and rt.has_decoder),
                      "kind": (rt.manifest.get("kind") or "t5") if rt else None},
            "index": {"state": self.index_state, **counts},
            "slow": self.slow,
            "completionP50Ms": None if p50 is None else round(p50, 1),
            "completions": dict(self.completion_counts),
            "completionsInFlight": self.inflight,
            "promptCache": _prompt_cache_stats(rt),
            "drafts": _draft_stats(rt),
            "searchRerank": dict(self.rerank_counts),
        }

    def emit_status(self) -> None:
        try:
            self.on_status(self.status())
        except Exception as exc:  # a closed client must not break the engine
            log.debug("status callback failed: %s", exc)

    def _record_latency(self, ms: float, missed: bool) -> None:
        self._latencies.append(ms)
        self._deadline_misses.append(missed)
        deadline = self.options.completion.deadline_ms
        slow = (len(self._latencies) >= 5 and (statistics.median(self._latencies) > 0.8 * deadline
                or sum(self._deadline_misses) > len(self._deadline_misses) // 2))
        if slow != self.slow:
            self.slow = slow
            self.emit_status()

    # ---- workspace --------------------------------------------------------------------------
    def add_root(self, root: Path) -> Indexer:
        root = root.resolve()
        for ix in self.indexers:
            if ix.root == root:
                return ix
        opts = self.options.index
        store = Store(index_path(root, opts.cache_dir), opts.embedding_dtype)
        if store.rebuilt_reason:
            log.warning("index for %s rebuilt: %s", root, store.rebuilt_reason)
        ix = Indexer(root, store, FileRules(opts.max_file_size, tuple(opts.exclude)), opts.max_files)
        self.indexers.append(ix)
        self.vectors[root] = VectorIndex()
        return ix

    def indexer_for(self, path: Path) -> Indexer | None:
        for ix in self.indexers:
            if is_inside(path, ix.root):
                return ix
        return None

    def index_all(self, cancel: threading.Event | None = None,
                  progress: Callable[[int, int, str], None] | None = None) -> list[IndexReport]:
        """Scan every root and embed new symbols in background batches on the model thread.

        Embedding starts while the scan still parses (a helper thread feeds the model thread
        every `EMBED_POLL_S`), so on two cores parsing and embedding overlap; what is left
        when the scan ends is embedded with progress reports."""
        self.index_state = "indexing"
        self.emit_status()
        reports = []
        try:
            for ix in self.indexers:
                scanned = threading.Event()
                early = [0]

                def embed_while_scanning(ix: Indexer = ix, scanned: threading.Event = scanned,
                                         early: list[int] = early) -> None:
                    while not scanned.wait(EMBED_POLL_S):
                        if cancel is not None and cancel.is_set():
                            return
                        try:  # stops at a batch boundary once the scan is over
                            early[0] += self.embed_pending(ix, _AnySet(cancel, scanned))
                        except Exception as exc:  # the final pass after the scan retries
                            log.warning("embedding during the scan failed: %s", exc)
                            return

                helper = threading.Thread(target=embed_while_scanning, name="codet5p-embed", daemon=True)
                helper.start()
                try:
                    report = ix.scan(cancel, progress)
                finally:
                    scanned.set()
                    helper.join()
                report.embedded = early[0]
                for reason in report.skipped:  # one line per skipped file
                    log.info("not indexed: %s", reason)
                if not report.cancelled:
                    report.embedded += self.embed_pending(ix, cancel, progress)
                reports.append(report)
        finally:
            release_free_memory()  # a scan's file texts and parse trees are freed, not returned
            self.index_state = "idle"
            self.emit_status()
        return reports

    def embed_pending(self, ix: Indexer, cancel: CancelFlag | None = None,
                      progress: Callable[[int, int, str], None] | None = None) -> int:
        if self._model_future is not None:
            self._model_future.result()
        rt = self.runtime
        if not self.ready or not rt.has_embedding or not self.semantic:
            return 0
        size = self.options.index.embed_batch_size

        def embed(texts: list[str]):
            job = self.worker.submit(rt.embed, texts, size, EMBED_TOKENS, priority=BACKGROUND)
            return job.result()

        return ix.embed_missing(embed, embedding_key(self.model_id), size, cancel, progress)

    # ---- completion -------------------------------------------------------------------------
    def ticket(self, doc: str) -> int:
        """A new request for `doc`; older tickets for it become stale."""
        with self._tickets_lock:
            self._tickets[doc] = self._tickets.get(doc, 0) + 1
            return self._tickets[doc]

    def is_current(self, doc: str, ticket: int) -> bool:
        return self._tickets.get(doc) == ticket

    def complete(self, text: str, line: int, character: int, language: str | None,
                 doc: str = "", ticket: int | None = None, deadline: float | None = None) -> CompletionResult:
        """Inline completion at a position (blocking). Raises PositionError when out of range."""
        self.inflight += 1
        try:
            result = self._complete(text, line, character, language, doc, ticket, deadline)
        finally:
            self.inflight -= 1
        self.completion_counts[result.source] += 1
        if result.source == "model" and result.text:
            self.completion_counts["shown"] += 1
        return result

    def _complete(self, text: str, line: int, character: int, language: str | None,
                  doc: str, ticket: int | None, deadline: float | None) -> CompletionResult:
        t0 = time.monotonic()
        opts = self.options.completion
        deadline = deadline or t0 + opts.deadline_ms / 1000
        ctx = comp.build_context(text, line, character, language)
        count = None
        if self.ready:
            tok = self.runtime.tokenizer
            count = lambda s: len(tok.encode(s))  # noqa: E731
        plan = comp.plan_request(ctx, opts.max_prefix_tokens, opts.max_suffix_tokens,
                                 opts.multiline, count, self._windows.get(doc) if doc else None)
        if doc:  # the next request in this document keeps the window while it fits
            self._windows[doc] = plan.window_line
            self._windows.move_to_end(doc)
            while len(self._windows) > MAX_WINDOWS:
                self._windows.popitem(last=False)
        found, cached = self.cache.get(ctx.prefix, ctx.suffix, plan.multiline)
        if found:
            return CompletionResult(cached, (time.monotonic() - t0) * 1000, "cache", plan.mode, plan.multiline)
        if self._model_future is not None and not self._model_future.done():
            try:
                self._model_future.result(timeout=max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                return CompletionResult(None, (time.monotonic() - t0) * 1000, "loading", plan.mode, plan.multiline)
        if not self.ready or not self.runtime.has_decoder:
            return CompletionResult(None, (time.monotonic() - t0) * 1000, "no-model", plan.mode, plan.multiline)
        job = self.worker.submit(self._generate_completion, ctx, plan, doc, ticket, deadline,
                                 priority=INTERACTIVE)
        text_out, source = job.result()
        ms = (time.monotonic() - t0) * 1000
        if source in ("model", "deadline"):
            self._record_latency(ms, source == "deadline")
        return CompletionResult(text_out, ms, source, plan.mode, plan.multiline)

    def _generate_completion(self, ctx: comp.CompletionContext, plan: comp.CompletionPlan,
                             doc: str, ticket: int | None, deadline: float) -> tuple[str | None, str]:
        if ticket is not None and not self.is_current(doc, ticket):
            return None, "superseded"
        if time.monotonic() >= deadline:
            return None, "deadline"
        from model.runtime import GenerationConfig
        opts = self.options.completion
        # a single-line request stops at the first newline after some text, also on a blank line
        # (decoding on past it costs a 135M decoder ~30 ms a token for text that is cut anyway)
        # the prompt was budgeted by `plan_request`; the runtime must not cut it again at its own
        # default (a left cut that moves with every keystroke defeats the prompt cache)
        budget = opts.max_prefix_tokens + (opts.max_suffix_tokens if plan.mode == "fim" else 0)
        config = GenerationConfig(max_new_tokens=opts.max_new_tokens if plan.multiline
                                  else min(opts.max_new_tokens, 32),
                                  stop_at_newline=not plan.multiline, deadline=deadline,
                                  draft_tokens=max(0, opts.draft_tokens), max_source_length=budget)
        gen = self.runtime.complete(plan.prefix, plan.suffix, config, mode=plan.mode,
                                    cache_key=(doc or None) if opts.reuse_prompt else None)
        if gen.stop_reason == "deadline":
            # a multi-line suggestion keeps the lines it finished in time; anything else is dropped
            done = gen.text[:gen.text.rfind("\n")] if plan.multiline and "\n" in gen.text.strip("\n") else ""
            if not done.strip():
                return None, "deadline"
            result = comp.postprocess(done, ctx, plan.multiline)
            return result, "deadline"
        result = comp.postprocess(gen.text, ctx, plan.multiline)
        self.cache.put(ctx.prefix, ctx.suffix, plan.multiline, result)
        return result, "model"

    # ---- hover ------------------------------------------------------------------------------
    def _lookup(self, path: Path | None):
        ix = self.indexer_for(path) if path is not None else (self.indexers[0] if self.indexers else None)
        if ix is None:
            return None
        return lambda name: ix.store.symbols_named(name)

    def hover(self, text: str, line: int, character: int, language: str,
              path: Path | None = None) -> HoverResult | None:
        """Hover card for the function/class at a position, with a generated summary if possible."""
        t0 = time.monotonic()
        target = resolve_target(text, language, line, character, self._lookup(path))
        if target is None:
            return None
        summary, note = None, ""
        if self.options.hover.enabled:
            summary, note = self.summary(target, t0 + self.options.hover.budget_ms / 1000)
        md = render_markdown(target, summary, note)
        return HoverResult(md, target, summary, (time.monotonic() - t0) * 1000, target.range)

    def summary(self, target: HoverTarget, deadline: float) -> tuple[str | None, str]:
        """(summary, note): cached by content hash and model, else generated within the budget."""
        key = f"{target.hash}:{self.model_id}"
        if key in self._summaries:
            return _summary_result(self._summaries[key])
        store = self.indexers[0].store if self.indexers else None
        if store is not None and self.model_id:
            cached = store.summary(target.hash, self.model_id)
            if cached is not None:
                self._summaries[key] = cached
                return _summary_result(cached)
        if self._model_future is not None and not self._model_future.done():
            try:
                self._model_future.result(timeout=max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                return None, "model still loading; no generated summary yet"
        if not self.ready or not self.runtime.has_decoder:
            return None, f"no generated summary: {self.model_message or 'no model loaded'}"
        from model.runtime import GenerationConfig
        config = GenerationConfig(max_new_tokens=self.options.hover.max_new_tokens, deadline=deadline)
        gen = self.worker.submit(self.runtime.summarize, target.code, config).result()
        if gen.stop_reason == "deadline":
            return None, f"summary skipped: over the {self.options.hover.budget_ms} ms budget"
        text = " ".join(gen.text.split())
        if comp.is_repetitive(text) or len(text) < 3:
            text = ""  # degenerate output is not worth showing
        self._summaries[key] = text
        if store is not None:
            try:  # a cache: a read-only or full index must not cost the user the hover
                store.put_summary(target.hash, self.model_id, text)
            except sqlite3.Error as exc:
                log.warning("summary not cached in %s: %s", store.path, exc)
        return _summary_result(text)

    # ---- docstring --------------------------------------------------------------------------
    def docstring(self, text: str, line: int, character: int, language: str) -> Insertion | None:
        sym = documentable_symbol(text, language, line, character)
        if sym is None:
            return None
        summary = ""
        if self.ready and self.runtime.has_decoder:
            target = HoverTarget.from_symbol(sym)
            summary = self.summary(target, time.monotonic() + self.options.hover.budget_ms / 1000)[0] or ""
        return docstring_edit(sym, text.split("\n"), summary)

    # ---- search -----------------------------------------------------------------------------
    def search(self, query: str, limit: int | None = None) -> list[tuple[Path, SearchHit]]:
        """Classic or hybrid search over every root; (root, hit) best first."""
        opts = self.options.search
        limit = limit or opts.limit
        out: list[tuple[Path, SearchHit]] = []
        for ix in self.indexers:
            if is_identifier_query(query):
                names = self.names.setdefault(ix.root, NameIndex())
                names.refresh(ix.store, ix.version)
                hits = classic_search(ix.store, query, limit, names)
            else:
                hits = self._hybrid(ix, query, limit)
            out += [(ix.root, h) for h in hits]
        if len(self.indexers) > 1:
            out.sort(key=lambda rh: -rh[1].score)
        return out[:limit]

    def _hybrid(self, ix: Indexer, query: str, limit: int) -> list[SearchHit]:
        opts = self.options.search
        rt = self.runtime if self.ready and self.semantic else None
        embed = match = None
        vectors = self.vectors.get(ix.root)
        if rt is not None and rt.has_embedding:
            vectors.refresh(ix.store, embedding_key(self.model_id), ix.version, journal=ix.changes_since)
            embed = self._query_vector
        likelihood = None
        lik_weight = likelihood_rerank_of(rt.manifest) if rt is not None and opts.rerank else None
        if lik_weight is not None and hasattr(rt, "query_likelihoods") and rt.has_decoder:
            likelihood = self._likelihoods
        elif rt is not None and rt.has_matching and opts.rerank and self.rerank:
            match = lambda q, codes: self.worker.submit(  # noqa: E731
                rt.match_scores, q, codes, len(codes), RERANK_CODE_TOKENS).result()
        weight = lexical_weight_of(rt.manifest) if rt is not None else 1.0
        return hybrid_search(ix.store, query, vectors, embed, match, limit, opts.candidates,
                             opts.rerank_top_k, weight, likelihood, lik_weight or 0.0)

    def _likelihoods(self, query: str, codes: list[str]):
        """log P(query as each code's docstring), one model job per candidate at `SEARCH`
        priority, so a completion waits for one candidate at most; None (no re-rank) when the
        candidates are not all scored within `RERANK_BUDGET_S`."""
        rt = self.runtime
        jobs = [self.worker.submit(rt.query_likelihoods, query, [code[:RERANK_CODE_CHARS]], priority=SEARCH)
                for code in codes]
        end = time.monotonic() + RERANK_BUDGET_S
        out = []
        try:
            for job in jobs:
                out.append(float(job.result(timeout=max(0.0, end - time.monotonic()))[0]))
        except Exception as exc:  # timeout, a cancelled job, a model error: keep the fused order
            for job in jobs:
                job.cancel()
            log.info("search re-rank skipped: %s", exc.__class__.__name__)
            self.rerank_counts["skipped"] += 1
            return None
        self.rerank_counts["likelihood"] += 1
        return out

    def _query_vector(self, query: str):
        """The query's embedding, from a small LRU cache (people repeat and refine queries)."""
        key = (self.model_id, query.strip())
        vec = self._query_vectors.get(key)
        if vec is None:
            vec = self.worker.submit(self.runtime.embed, [key[1]], 1, EMBED_TOKENS).result()[0]
            self._query_vectors[key] = vec
            if len(self._query_vectors) > QUERY_CACHE_SIZE:
                self._query_vectors.popitem(last=False)
        else:
            self._query_vectors.move_to_end(key)
        return vec

    def close(self) -> None:
        self.worker.shutdown()
        for ix in self.indexers:
            ix.store.close()
