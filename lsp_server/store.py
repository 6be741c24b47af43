"""The per-workspace SQLite index (sqlite-utils): files, symbols, FTS5, embeddings, summaries.

Tables
- `meta(key, value)`: `schema_version`; a different version means the file is rebuilt.
- `files(path, hash, size, mtime, language, error)`: one row per indexed file, keyed by path
  relative to the root, with the SHA-1 of its content (unchanged files are skipped).
- `symbols(...)`: definitions with ranges, signature, docstring, code and a content hash.
- `symbols_fts`: FTS5 over name, container, signature, docstring and the identifier words of
  name/container/signature (BM25); code bodies are left to the embeddings, which keeps common
  words from matching most of a large index.
- `embeddings(hash, model, dim, dtype, vector)`: one vector per symbol content hash and model,
  stored as a float16 (default) or float32 blob, so an unchanged symbol is never re-embedded.
- `summaries(hash, model, text)`: generated hover summaries by content hash.

Each thread gets its own connection (WAL mode: the indexer writes while searches read). A file
that is not a valid index of this version is deleted and rebuilt (`Store.rebuilt` says so).
Every write is one explicit transaction (`_transaction`) with plain `executemany`: sqlite-utils
4 commits each statement run outside a transaction it knows of, so a file's row, its symbols
and their FTS rows were committed one by one and a `kill -9` between them left a file indexed
without its symbols, never to be re-parsed (its hash matched). An index file deleted while
the server runs is written back from the open connection (`Store._restore`).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
import sqlite_utils

from lsp_server.symbols import Symbol

log = logging.getLogger(__name__)

SCHEMA_VERSION = 5
_SYMBOL_COLUMNS = ("name", "kind", "container", "language", "start_line", "start_char", "end_line",
                   "end_char", "name_line", "name_char", "name_end_char", "signature", "code",
                   "docstring", "body_line")
_WORD_RE = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def identifier_words(text: str) -> str:
    """Split identifiers into lower-case words: `parseHTTPRequest_v2` -> `parse http request v 2`."""
    return " ".join(w.lower() for w in _WORD_RE.findall(text))


def content_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


EMBEDDING_CHUNK = 4096  # rows read at a time when loading vectors


def vector_to_blob(vec: np.ndarray, dtype: str = "float16") -> bytes:
    return np.asarray(vec, dtype=np.float16 if dtype == "float16" else np.float32).tobytes()


def blob_to_vector(blob: bytes, dtype: str) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.float16 if dtype == "float16" else np.float32).astype(np.float32)


class Store:
    """One workspace index file."""

    def __init__(self, path: Path, embedding_dtype: str = "float16") -> None:
        self.path = path
        self.embedding_dtype = embedding_dtype
        self.rebuilt_reason: str | None = None
        self._local = threading.local()
        self._lock = threading.Lock()
        self._stems: dict[str, str] = {}  # query word -> porter stem (FTS vocabulary term)
        self._identity: tuple[int, int] | None = None  # (device, inode) of the file we opened
        self._generation = 0  # bumped when the file is restored: every thread reopens
        self._keeper: sqlite3.Connection | None = None
        path.parent.mkdir(parents=True, exist_ok=True)
        self._open_or_rebuild()
        self._keeper = _keeper(path)
        self._identity = _identity(path)

    # -- connections -------------------------------------------------------------------------
    @property
    def db(self) -> sqlite_utils.Database:
        if self._identity is not None and _identity(self.path) != self._identity:
            self._restore()
        db = getattr(self._local, "db", None)
        if db is not None and getattr(self._local, "generation", 0) != self._generation:
            db.conn.close()
            db = None
        if db is None:
            conn = sqlite3.connect(str(self.path), timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            db = sqlite_utils.Database(conn)
            self._local.db, self._local.generation = db, self._generation
        return db

    def _restore(self) -> None:
        """The index file was deleted (or replaced) while open: write the open index back to
        its path (`VACUUM INTO` from the connection that still holds the old file), then make
        every thread reopen. Without this, threads that had a connection kept writing to the
        deleted file while new ones created an empty, table-less one."""
        with self._lock:
            now = _identity(self.path)
            if now == self._identity:
                return  # another thread restored it
            if now is None and self._keeper is not None:
                log.warning("index file %s was deleted while the server ran; restoring it", self.path)
                try:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    for suffix in ("-wal", "-shm"):
                        Path(str(self.path) + suffix).unlink(missing_ok=True)
                    self._keeper.execute("VACUUM INTO ?", [str(self.path)])
                except (sqlite3.Error, OSError) as exc:
                    log.error("cannot restore the index file %s: %s; the open copy stays in use", self.path, exc)
                    self._identity = None  # stop checking: keep using the open (deleted) file
                    return
            else:
                log.warning("index file %s was replaced while the server ran; using the new file", self.path)
            self._keeper.close() if self._keeper is not None else None
            self._keeper = _keeper(self.path)
            self._identity = _identity(self.path)
            self._generation += 1

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write (BEGIN IMMEDIATE ... COMMIT, rolled back on any error)."""
        conn = self.db.conn
        with self._lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    def _write(self, *steps: tuple[str, Sequence, bool]) -> sqlite3.Cursor:
        """Run `(sql, params, many)` steps as one transaction (`many`: executemany over rows).

        A connection that SQLite opened while the index was not writable stays read-only after
        the disk is writable again; such a write is retried once on a fresh connection."""
        for attempt in (0, 1):
            try:
                with self._transaction() as conn:
                    cur = None
                    for sql, params, many in steps:
                        cur = conn.executemany(sql, params) if many else conn.execute(sql, params)
                    return cur
            except sqlite3.OperationalError as exc:
                if attempt or "readonly" not in str(exc):
                    raise
                log.info("index %s: write on a read-only connection (%s); reconnecting", self.path, exc)
                self.close_connection()
        raise AssertionError("unreachable")

    def close_connection(self) -> None:
        """Close this thread's connection (the next access opens a new one)."""
        db = getattr(self._local, "db", None)
        if db is not None:
            db.conn.close()
            self._local.db = None

    def close(self) -> None:
        self.close_connection()
        if self._keeper is not None:
            with self._lock:
                self._keeper.close()
                self._keeper = None
                self._identity = None

    def _open_or_rebuild(self) -> None:
        try:
            version = self._check()
            if version == SCHEMA_VERSION:
                return
            if version is not None:
                self.rebuilt_reason = f"index schema {version} != {SCHEMA_VERSION}"
        except sqlite3.DatabaseError as exc:
            self.rebuilt_reason = f"corrupt index {self.path}: {exc}"
        if self.rebuilt_reason:
            log.warning("rebuilding index: %s", self.rebuilt_reason)
        self.close()
        for suffix in ("", "-wal", "-shm"):
            Path(str(self.path) + suffix).unlink(missing_ok=True)
        self._create()

    def _check(self) -> int | None:
        if not self.path.exists():
            return None
        db = self.db
        ok = db.execute("PRAGMA quick_check").fetchone()[0]
        if ok != "ok":
            raise sqlite3.DatabaseError(f"quick_check: {ok}")
        if "meta" not in db.table_names():
            return -1
        row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        return int(row[0]) if row else -1

    def _create(self) -> None:
        db = self.db
        db["meta"].create({"key": str, "value": str}, pk="key")
        db["files"].create({"path": str, "hash": str, "size": int, "mtime": float, "language": str,
                            "error": str}, pk="path")
        db["symbols"].create({"id": int, "path": str, "hash": str, "words": str,
                              **{c: (int if c.endswith(("_line", "_char")) else str)
                                 for c in _SYMBOL_COLUMNS}}, pk="id")
        db["symbols"].create_index(["path"])
        db["symbols"].create_index(["name"])
        db["symbols"].create_index(["hash"])
        db["symbols"].enable_fts(["name", "container", "signature", "docstring", "words"],
                                 fts_version="FTS5", create_triggers=True, tokenize="porter")
        db["embeddings"].create({"hash": str, "model": str, "dim": int, "dtype": str,
                                 "vector": bytes}, pk=("hash", "model"))
        db["summaries"].create({"hash": str, "model": str, "text": str}, pk=("hash", "model"))
        db["meta"].insert({"key": "schema_version", "value": str(SCHEMA_VERSION)}, replace=True)

    # -- files and symbols -------------------------------------------------------------------
    def file_hash(self, rel_path: str) -> str | None:
        row = self.db.execute("SELECT hash FROM files WHERE path=?", [rel_path]).fetchone()
        return row[0] if row else None

    def file_paths(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT path FROM files")]

    def replace_file(self, rel_path: str, text_hash: str, size: int, mtime: float, language: str,
                     symbols: Sequence[Symbol], error: str = "") -> None:
        """Atomically replace a file's row and symbols."""
        rows = []
        for sym in symbols:
            d = asdict(sym)
            row = {c: d[c] for c in _SYMBOL_COLUMNS}
            row.update(path=rel_path, hash=sym.content_hash,
                       words=identifier_words(f"{sym.name} {sym.container} {sym.signature}"))
            rows.append(row)
        columns = ("path", "hash", "words", *_SYMBOL_COLUMNS)
        self._write(("DELETE FROM symbols WHERE path=?", [rel_path], False),
                    ("INSERT OR REPLACE INTO files (path, hash, size, mtime, language, error) "
                     "VALUES (?, ?, ?, ?, ?, ?)", [rel_path, text_hash, size, mtime, language, error], False),
                    (f"INSERT INTO symbols ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                     [[row[c] for c in columns] for row in rows], True))

    def touch_file(self, rel_path: str, size: int, mtime: float) -> None:
        """New size/mtime for a file whose content is unchanged."""
        self._write(("UPDATE files SET size=?, mtime=? WHERE path=?", [size, mtime, rel_path], False))

    def remove_file(self, rel_path: str) -> None:
        self._write(("DELETE FROM symbols WHERE path=?", [rel_path], False),
                    ("DELETE FROM files WHERE path=?", [rel_path], False))

    def counts(self) -> dict[str, int]:
        q = self.db.execute
        return {"files": q("SELECT count(*) FROM files").fetchone()[0],
                "symbols": q("SELECT count(*) FROM symbols").fetchone()[0],
                "embeddings": q("SELECT count(*) FROM embeddings").fetchone()[0]}

    def rows(self, where: str = "1", params: Sequence = (), limit: int = 100,
             order: str = "id") -> list[dict]:
        sql = f"SELECT * FROM symbols WHERE {where} ORDER BY {order} LIMIT ?"
        return list(self.db.query(sql, [*params, limit]))

    def symbols_by_ids(self, ids: Iterable[int]) -> dict[int, dict]:
        ids = list(ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        return {r["id"]: r for r in self.db.query(f"SELECT * FROM symbols WHERE id IN ({marks})", ids)}

    def symbols_named(self, name: str, limit: int = 20) -> list[dict]:
        return self.rows("name=?", [name], limit)

    # -- embeddings --------------------------------------------------------------------------
    def hashes_missing_embedding(self, model: str, limit: int = 10_000) -> list[tuple[str, dict]]:
        """(hash, one symbol row) for symbols without an embedding for `model`."""
        sql = ("SELECT s.* FROM symbols s LEFT JOIN embeddings e ON e.hash=s.hash AND e.model=? "
               "WHERE e.hash IS NULL GROUP BY s.hash LIMIT ?")
        return [(r["hash"], r) for r in self.db.query(sql, [model, limit])]

    def count_missing_embeddings(self, model: str) -> int:
        sql = ("SELECT count(DISTINCT s.hash) FROM symbols s LEFT JOIN embeddings e "
               "ON e.hash=s.hash AND e.model=? WHERE e.hash IS NULL")
        return self.db.execute(sql, [model]).fetchone()[0]

    def put_embeddings(self, model: str, hashes: Sequence[str], vectors: np.ndarray) -> None:
        rows = [{"hash": h, "model": model, "dim": int(v.shape[0]), "dtype": self.embedding_dtype,
                 "vector": vector_to_blob(v, self.embedding_dtype)} for h, v in zip(hashes, vectors)]
        self._write(("INSERT OR REPLACE INTO embeddings (hash, model, dim, dtype, vector) "
                     "VALUES (:hash, :model, :dim, :dtype, :vector)", rows, True))

    def embedding_matrix(self, model: str) -> tuple[np.ndarray, np.ndarray]:
        """(symbol ids [n], unit vectors float32 [n, d]) for every symbol embedded with `model`."""
        ids, _, matrix = self.embedding_rows(model)
        return ids, matrix

    def embedding_rows(self, model: str, paths: Sequence[str] | None = None,
                       hashes: Sequence[str] | None = None) -> tuple[np.ndarray, list[str], np.ndarray]:
        """(symbol ids, their paths, float32 vectors) of the symbols embedded with `model`: all
        of them, or those in `paths` or with a content hash in `hashes` (either may match)."""
        sql = ("SELECT s.id, s.path, e.vector, e.dtype, e.dim FROM symbols s JOIN embeddings e "
               "ON e.hash=s.hash AND e.model=?")
        params: list = [model]
        if paths is not None or hashes is not None:
            conds = []
            for col, values in (("s.path", paths), ("s.hash", hashes)):
                if values:
                    conds.append(f"{col} IN (SELECT value FROM json_each(?))")
                    params.append(json.dumps(list(values)))
            if not conds:
                return np.zeros(0, dtype=np.int64), [], np.zeros((0, 0), dtype=np.float32)
            sql += " WHERE " + " OR ".join(conds)
        # read in chunks: holding every row's blob and tuple at once left the freed, fragmented
        # heap of that peak resident in the server for good
        cursor = self.db.execute(sql + " ORDER BY s.id", params)
        ids: list[np.ndarray] = []
        parts: list[np.ndarray] = []
        paths: list[str] = []
        same: dict[str, str] = {}  # one string per path, not one per symbol
        while rows := cursor.fetchmany(EMBEDDING_CHUNK):
            ids.append(np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)))
            paths.extend(same.setdefault(r[1], r[1]) for r in rows)
            kinds = {(r[3], r[4]) for r in rows}
            if len(kinds) == 1:  # the usual case: one blob, one conversion
                dtype, dim = kinds.pop()
                flat = blob_to_vector(b"".join(r[2] for r in rows), dtype)
                if flat.size == len(rows) * dim:
                    parts.append(flat.reshape(len(rows), dim))
                    continue
            parts.append(np.vstack([blob_to_vector(r[2], r[3]) for r in rows]))
        if not ids:
            return np.zeros(0, dtype=np.int64), [], np.zeros((0, 0), dtype=np.float32)
        return np.concatenate(ids), paths, np.concatenate(parts) if len(parts) > 1 else parts[0]

    def prune_embeddings(self) -> int:
        """Drop vectors no symbol uses any more."""
        cur = self._write(("DELETE FROM embeddings WHERE hash NOT IN (SELECT hash FROM symbols)", [], False))
        return cur.rowcount

    # -- summaries ---------------------------------------------------------------------------
    def summary(self, hash_: str, model: str) -> str | None:
        row = self.db.execute("SELECT text FROM summaries WHERE hash=? AND model=?", [hash_, model]).fetchone()
        return row[0] if row else None

    def put_summary(self, hash_: str, model: str, text: str) -> None:
        self._write(("INSERT OR REPLACE INTO summaries (hash, model, text) VALUES (?, ?, ?)",
                     [hash_, model, text], False))

    # -- lexical search ----------------------------------------------------------------------
    def fts(self, query: str, limit: int = 50,
            max_postings: int | None = None) -> list[tuple[int, float]]:
        """(symbol id, bm25) best first for a natural-language query (terms OR-ed).

        BM25 is computed for every row that matches, so a common word ("file", "data") makes
        the query cost grow with the index. Terms are therefore taken rarest first while their
        summed document frequencies stay within `max_postings` (default: 2,000 or 3% of the
        symbols, whichever is more); the rarest term is always kept. Words that match most of a
        large index carry almost no BM25 weight, and the semantic list covers them."""
        terms = list(dict.fromkeys(t for t in re.findall(r"\w+", query.lower())
                                   if t not in _STOP and len(t) > 1))
        if not terms:
            return []
        try:
            if len(terms) > 1:
                terms = self._budget_terms(terms, max_postings)
            match = " OR ".join(f'"{t}"' for t in terms)
            sql = ("SELECT rowid, bm25(symbols_fts, 8.0, 2.0, 2.0, 1.0, 1.0) AS rank FROM symbols_fts "
                   "WHERE symbols_fts MATCH ? ORDER BY rank LIMIT ?")
            return [(r[0], r[1]) for r in self.db.execute(sql, [match, limit])]
        except sqlite3.OperationalError as exc:
            log.warning("fts query %r failed: %s", query, exc)
            return []

    def _budget_terms(self, terms: list[str], max_postings: int | None) -> list[str]:
        """The query terms to match: rarest first within the postings budget (see `fts`)."""
        conn = self.db.conn
        if not getattr(self._local, "vocab", False):
            conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.fts_vocab "
                         "USING fts5vocab(main, symbols_fts, 'row')")
            conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.fts_query USING fts5(t, tokenize='porter')")
            conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.fts_query_terms "
                         "USING fts5vocab(temp, fts_query, 'instance')")
            self._local.vocab = True
        todo = [t for t in terms if t not in self._stems]
        if todo:  # the index's own tokenizer (porter) gives the stems the vocabulary holds
            with conn:
                conn.executemany("INSERT INTO temp.fts_query(rowid, t) VALUES (?, ?)", enumerate(todo))
                stems = dict(conn.execute("SELECT doc, term FROM temp.fts_query_terms"))
                conn.execute("DELETE FROM temp.fts_query")
            if len(self._stems) > 10_000:
                self._stems.clear()
            for i, t in enumerate(todo):
                self._stems[t] = stems.get(i, t)
        stem = {t: self._stems[t] for t in terms}
        keys = sorted(set(stem.values()))
        df = dict(conn.execute(f"SELECT term, doc FROM temp.fts_vocab WHERE term IN "
                               f"({','.join('?' * len(keys))})", keys))
        if max_postings is None:
            max_postings = max(2000, int(0.03 * self._symbol_count()))
        ranked = sorted(terms, key=lambda t: df.get(stem[t], 0))
        kept, total = [], 0
        for t in ranked:
            n = df.get(stem[t], 0)
            if kept and total + n > max_postings:
                break
            kept.append(t)
            total += n
        return kept

    def _symbol_count(self) -> int:
        row = self.db.execute("SELECT max(rowid) FROM symbols").fetchone()
        return int(row[0] or 0)


def _keeper(path: Path) -> sqlite3.Connection:
    """A connection that keeps the file, its WAL and shared memory open (a read opens them)."""
    conn = sqlite3.connect(str(path), timeout=30, check_same_thread=False)
    conn.execute("SELECT count(*) FROM meta").fetchone()
    return conn


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


_STOP = frozenset("a an the of to in for on and or is are be by with that this it from as at "
                  "which what where how do does all any into".split())
