"""Checks a workspace index (the SQLite file) against a fresh index of the same files.

`snapshot` reads what a checker needs (SQLite and FTS5 integrity, files, symbols); `fresh_snapshot`
indexes the tree from scratch into a private cache (symbols only; embeddings do not change
which symbols exist); `problems` lists every difference: a file indexed with a stale hash, a
symbol lost or duplicated, a symbol without a file row, an FTS table out of step.
`partial=True` accepts files not yet indexed (an index killed mid-scan), never a partly
indexed file.
"""
from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Snapshot:
    integrity: str
    fts_ok: bool
    files: dict[str, str]
    symbols: dict[str, Counter] = field(default_factory=dict)  # path -> Counter of symbol keys
    orphans: int = 0
    fts_rows: int = 0
    symbol_rows: int = 0


def snapshot(db_path: Path) -> Snapshot:
    conn = sqlite3.connect(str(db_path), timeout=30)
    try:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        try:
            conn.execute("INSERT INTO symbols_fts(symbols_fts) VALUES('integrity-check')")
            fts_ok = True
        except sqlite3.DatabaseError:
            fts_ok = False
        files = dict(conn.execute("SELECT path, hash FROM files"))
        symbols: dict[str, Counter] = {}
        for row in conn.execute("SELECT path, name, kind, container, start_line, start_char, end_line, "
                                "hash FROM symbols"):
            symbols.setdefault(row[0], Counter())[row[1:]] += 1
        orphans = conn.execute("SELECT count(*) FROM symbols WHERE path NOT IN (SELECT path FROM files)"
                               ).fetchone()[0]
        fts_rows = conn.execute("SELECT count(*) FROM symbols_fts").fetchone()[0]
        symbol_rows = conn.execute("SELECT count(*) FROM symbols").fetchone()[0]
    finally:
        conn.close()
    return Snapshot(integrity, fts_ok, files, symbols, orphans, fts_rows, symbol_rows)


def fresh_snapshot(root: Path, cache: Path) -> Snapshot:
    """Index `root` from scratch (no model) into `cache` and snapshot it."""
    from lsp_server.engine import Engine
    from lsp_server.options import ServerOptions
    options = ServerOptions()
    options.index.cache_dir = str(cache)
    engine = Engine(options)
    try:
        ix = engine.add_root(root)
        ix.scan()
        path = ix.store.path
    finally:
        engine.close()
    return snapshot(path)


def problems(got: Snapshot, fresh: Snapshot, partial: bool = False) -> list[str]:
    out = []
    if got.integrity != "ok":
        out.append(f"integrity_check: {got.integrity}")
    if not got.fts_ok or got.fts_rows != got.symbol_rows:
        out.append(f"FTS out of step: ok={got.fts_ok}, {got.fts_rows} FTS rows for {got.symbol_rows} symbols")
    if got.orphans:
        out.append(f"{got.orphans} symbols without a file row")
    for path, digest in got.files.items():
        if path not in fresh.files:
            out.append(f"{path}: indexed but not in the fresh index")
        elif fresh.files[path] != digest:
            out.append(f"{path}: stale hash")
        elif got.symbols.get(path, Counter()) != fresh.symbols.get(path, Counter()):
            have, want = got.symbols.get(path, Counter()), fresh.symbols.get(path, Counter())
            out.append(f"{path}: {sum((want - have).values())} symbols lost, "
                       f"{sum((have - want).values())} extra or duplicated")
    if not partial:
        missing = sorted(set(fresh.files) - set(got.files))
        if missing:
            out.append(f"{len(missing)} files missing, e.g. {missing[:3]}")
    return out
