"""Workspace indexing: walk, parse changed files, store symbols, embed what is new.

`Indexer.scan` walks the root (see `files.walk` for the rules), re-parses only files whose
content hash changed (a size+mtime match skips even the hashing), removes vanished files, and
reports progress. `Indexer.update_text` indexes an open document's in-memory text.
`Indexer.embed_missing` embeds symbols whose content hash has no vector for the current model,
in small batches, so unchanged symbols are never re-embedded. Every step honours a cancel event.
"""
from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from collections import deque
from typing import Callable, Protocol, Sequence

import numpy as np

from lsp_server.files import FileRules, IgnoreMatcher, SkippedFile, is_indexable, read_source, walk
from lsp_server.languages import language_for_path
from lsp_server.store import Store
from lsp_server.symbols import extract_symbols

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]
class CancelFlag(Protocol):
    """What cancellation needs: a `threading.Event` or anything with `is_set()`."""

    def is_set(self) -> bool: ...


JOURNAL_SIZE = 4096  # change records kept for incremental vector updates


@dataclass
class IndexReport:
    files_seen: int = 0
    files_parsed: int = 0
    files_removed: int = 0
    symbols_added: int = 0
    skipped: list[str] = field(default_factory=list)
    embedded: int = 0
    cancelled: bool = False
    seconds: float = 0.0


# Embedding inputs are cut to this many tokens: a symbol's kind, qualified name, docstring and
# the head of its code say what it does; the encoder's cost grows with every further token.
EMBED_TOKENS = 128
# Bumped when `symbol_embedding_text` changes, so vectors of the old text are not mixed in.
EMBED_TEXT_VERSION = 2


def embedding_key(model_id: str) -> str:
    """The `embeddings.model` key: the model and the version of the embedded text."""
    return f"{model_id}:t{EMBED_TEXT_VERSION}"


def symbol_embedding_text(row: dict, max_chars: int = 16 * EMBED_TOKENS) -> str:
    """The compact text embedded for a symbol: kind, qualified name, the docstring's first
    paragraph, then the code (signature and the start of the body), at most `max_chars`."""
    qual = f"{row['container']}.{row['name']}" if row.get("container") else row["name"]
    doc = (row.get("docstring") or "").strip().split("\n\n")[0]
    doc = f"\n{doc}" if doc else ""
    return f"{row['kind']} {qual}{doc}\n{row['code']}"[:max_chars]


class Indexer:
    """Keeps one `Store` in step with one workspace root."""

    def __init__(self, root: Path, store: Store, rules: FileRules = FileRules(),
                 max_files: int = 50_000) -> None:
        self.root = root.resolve()
        self.store = store
        self.rules = rules
        self.max_files = max_files
        self.version = 0  # bumped on every change, with a `journal` entry saying what changed
        self.journal: deque[tuple[int, tuple[str, ...], tuple[str, ...]]] = deque(maxlen=JOURNAL_SIZE)
        self.matcher = IgnoreMatcher(self.root, rules.exclude)
        self._lock = threading.Lock()

    def rel(self, path: Path) -> str:
        return path.resolve().relative_to(self.root).as_posix()

    def accepts(self, path: Path) -> bool:
        """Whether a single file (from an editor event) follows the indexing rules."""
        path = Path(path).absolute()
        return is_indexable(path.parent.resolve() / path.name, self.root, self.matcher)

    def _bump(self, paths: Sequence[str] = (), hashes: Sequence[str] = ()) -> None:
        """A new version: the symbols of `paths` were replaced or removed, vectors for `hashes`
        were added. Call after the store write (readers apply the journal idempotently)."""
        with self._lock:
            self.version += 1
            self.journal.append((self.version, tuple(paths), tuple(hashes)))

    def changes_since(self, version: int) -> tuple[set[str], set[str]] | None:
        """(paths, hashes) changed after `version` up to now, or None when the journal no
        longer reaches back that far (the caller reloads everything)."""
        with self._lock:
            if version > self.version or version < 0:
                return None
            if version == self.version:
                return set(), set()
            if not self.journal or self.journal[0][0] > version + 1:
                return None
            paths: set[str] = set()
            hashes: set[str] = set()
            for v, p, h in self.journal:
                if v > version:
                    paths.update(p)
                    hashes.update(h)
            return paths, hashes

    def index_file(self, path: Path, report: IndexReport | None = None) -> int:
        """(Re)index one file from disk if it changed; returns the number of symbols stored."""
        report = report or IndexReport()
        rel = self.rel(path)
        language = language_for_path(path)
        if language is None or not self.accepts(path):
            if self.store.file_hash(rel) is not None:
                self.remove(path)
            return 0
        try:
            try:
                stat = path.stat()
            except OSError as exc:  # vanished (or unreadable) since it was listed
                raise SkippedFile(f"{path}: cannot stat ({exc.strerror})") from exc
            known = self.store.db.execute("SELECT hash, size, mtime FROM files WHERE path=?", [rel]).fetchone()
            if known and known[1] == stat.st_size and known[2] == stat.st_mtime:
                return 0
            text = read_source(path, self.root, self.rules)
        except SkippedFile as exc:
            report.skipped.append(str(exc))
            if self.store.file_hash(rel) is not None:
                self.store.remove_file(rel)
                self._bump(paths=[rel])
            return 0
        return self._store_text(rel, text, language, stat.st_size, stat.st_mtime, report)

    def update_text(self, path: Path, text: str) -> int:
        """Index an open document's current text (not yet saved)."""
        language = language_for_path(path)
        if language is None or not self.accepts(path):
            return 0
        if len(text.encode("utf-8", "surrogatepass")) > self.rules.max_file_size:
            return 0
        return self._store_text(self.rel(path), text, language, len(text), 0.0, IndexReport())

    def _store_text(self, rel: str, text: str, language: str, size: int, mtime: float,
                    report: IndexReport) -> int:
        digest = hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()
        if self.store.file_hash(rel) == digest:
            self.store.touch_file(rel, size, mtime)
            return 0
        try:
            symbols = extract_symbols(text, language)
        except Exception as exc:  # a grammar failure must not stop indexing
            log.warning("cannot parse %s: %s", rel, exc)
            report.skipped.append(f"{rel}: parse error {exc}")
            symbols = []
        self.store.replace_file(rel, digest, size, mtime, language, symbols)
        report.files_parsed += 1
        report.symbols_added += len(symbols)
        self._bump(paths=[rel])
        return len(symbols)

    def remove(self, path: Path) -> None:
        try:
            rel = self.rel(path)
        except ValueError:
            return
        self.store.remove_file(rel)
        self._bump(paths=[rel])

    def scan(self, cancel: threading.Event | None = None, progress: Progress | None = None) -> IndexReport:
        """Bring the store up to date with the files on disk."""
        t0 = time.perf_counter()
        report = IndexReport()
        self.matcher = IgnoreMatcher(self.root, self.rules.exclude)  # .gitignore may have changed
        files = []
        for path in walk(self.root, self.rules):
            if len(files) >= self.max_files:  # a file past the limit exists (exactly the limit is fine)
                report.skipped.append(f"{self.root}: more than {self.max_files} files; the rest is not indexed")
                break
            files.append(path)
        seen = set()
        last = 0.0
        for i, path in enumerate(files):
            if cancel is not None and cancel.is_set():
                report.cancelled = True
                break
            try:
                seen.add(self.rel(path))
                self.index_file(path, report)
            except (OSError, ValueError, RuntimeError) as exc:  # one bad file never stops a scan
                report.skipped.append(f"{path}: {exc}")  # logged by the caller
            report.files_seen += 1
            if progress is not None and time.perf_counter() - last > 0.2:
                last = time.perf_counter()
                progress(i + 1, len(files), f"{i + 1}/{len(files)} files")
        if not report.cancelled:
            gone = sorted(set(self.store.file_paths()) - seen)
            for rel in gone:
                self.store.remove_file(rel)
                report.files_removed += 1
            if gone:
                self._bump(paths=gone)
        report.seconds = time.perf_counter() - t0
        return report

    def embed_missing(self, embed: Callable[[list[str]], np.ndarray], model: str,
                      batch_size: int = 16, cancel: CancelFlag | None = None,
                      progress: Progress | None = None) -> int:
        """Embed every symbol content hash without a vector for `model`; returns how many."""
        done = 0
        embedded: list[str] = []
        total = self.store.count_missing_embeddings(model)
        while total and not (cancel is not None and cancel.is_set()):
            chunk = self.store.hashes_missing_embedding(model, limit=max(batch_size, 256))
            if not chunk:
                break
            chunk.sort(key=lambda hr: len(hr[1]["code"]) + len(hr[1]["docstring"] or ""))  # little padding
            for start in range(0, len(chunk), batch_size):
                if cancel is not None and cancel.is_set():
                    break
                batch = chunk[start:start + batch_size]
                vectors = embed([symbol_embedding_text(row) for _, row in batch])
                self.store.put_embeddings(model, [h for h, _ in batch], vectors)
                done += len(batch)
                embedded.extend(h for h, _ in batch)
                if progress is not None:
                    progress(done, total, f"embedded {done}/{total} symbols")
            if embedded:  # searchable chunk by chunk
                self._bump(hashes=embedded)
                embedded = []
        return done
