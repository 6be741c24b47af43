"""Regression tests (no server) for the bugs the stress suite found in files, indexer and store."""
from __future__ import annotations

import logging
import os
import sqlite3
import threading
from pathlib import Path

import pytest

from lsp_server.files import FileRules, SkippedFile, read_source, walk
from lsp_server.indexer import Indexer
from lsp_server.store import Store
from lsp_server.symbols import extract_symbols


def _indexer(root: Path, tmp_path: Path, **kw) -> Indexer:
    return Indexer(root, Store(tmp_path / "index.sqlite"), **kw)


def test_a_symlink_loop_is_skipped_and_the_scan_goes_on(tmp_path: Path, caplog) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "ok.py").write_text("def ok(): pass\n")
    os.symlink("loop_b.py", root / "loop_a.py")
    os.symlink("loop_a.py", root / "loop_b.py")
    with caplog.at_level(logging.INFO, "lsp_server"):
        report = _indexer(root, tmp_path).scan()  # raised RuntimeError("Symlink loop") before
    assert report.files_parsed == 1 and report.symbols_added == 1
    assert sum("symlink loop" in r.getMessage() for r in caplog.records) == 2


def test_a_file_name_that_is_not_utf8_is_skipped(tmp_path: Path, caplog) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "ok.py").write_text("def ok(): pass\n")
    with open(os.path.join(os.fsencode(root), b"caf\xe9.py"), "w") as fh:
        fh.write("def latin(): pass\n")
    with caplog.at_level(logging.INFO, "lsp_server"):
        report = _indexer(root, tmp_path).scan()  # UnicodeEncodeError in SQLite before
    assert report.files_parsed == 1
    assert [r for r in caplog.records if "not valid UTF-8" in r.getMessage()]


def test_a_file_vanishing_between_listing_and_reading(tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "ok.py").write_text("def ok(): pass\n")
    gone = root / "gone.py"
    listed = [gone, root / "ok.py"]
    monkeypatch.setattr("lsp_server.indexer.walk", lambda r, rules: iter(listed))  # listed, never there
    ix = _indexer(root, tmp_path)
    report = ix.scan()  # FileNotFoundError from stat() ended the scan before
    assert report.files_parsed == 1 and any("gone.py" in s for s in report.skipped)
    assert ix.index_file(gone) == 0


def test_a_fifo_is_never_opened_for_reading(tmp_path: Path, caplog) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    os.mkfifo(root / "pipe.py")
    result: list = []
    t = threading.Thread(target=lambda: result.append(_try_read(root / "pipe.py", root)), daemon=True)
    t.start()
    t.join(5)
    assert not t.is_alive(), "read_source blocked on a FIFO"
    assert "not a regular file" in result[0]
    with caplog.at_level(logging.INFO, "lsp_server"):
        assert list(walk(root)) == []
    assert [r for r in caplog.records if "not a regular file" in r.getMessage()]


def _try_read(path: Path, root: Path) -> str:
    try:
        return read_source(path, root)
    except SkippedFile as exc:
        return str(exc)


def test_reads_stop_at_the_size_limit(tmp_path: Path) -> None:
    big = tmp_path / "big.py"
    big.write_bytes(b"x" * 5000)
    with pytest.raises(SkippedFile, match="over the 1000-byte limit"):
        read_source(big, tmp_path, FileRules(max_file_size=1000))
    assert read_source(big, tmp_path, FileRules(max_file_size=5000)) == "x" * 5000


def test_exactly_max_files_is_not_reported_as_more(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    for i in range(3):
        (root / f"f{i}.py").write_text(f"def f{i}(): pass\n")
    assert _indexer(root, tmp_path, max_files=3).scan().skipped == []
    (root / "f3.py").write_text("def f3(): pass\n")
    report = Indexer(root, Store(tmp_path / "index2.sqlite"), max_files=3).scan()
    assert report.files_seen == 3 and any("more than 3 files" in s for s in report.skipped)


def test_replacing_a_file_is_atomic(tmp_path: Path) -> None:
    """A failure half-way through a file's write leaves the previous version whole (the kill -9
    trials found a file row committed without its symbols)."""
    store = Store(tmp_path / "index.sqlite")
    v1 = extract_symbols("def one(): pass\n\ndef two(): pass\n", "python")
    store.replace_file("a.py", "hash-v1", 10, 1.0, "python", v1)
    v2 = extract_symbols("def three(): pass\n", "python")
    v2[0].signature = object()  # SQLite cannot bind it: the symbols insert fails
    with pytest.raises((sqlite3.Error, TypeError, ValueError)):
        store.replace_file("a.py", "hash-v2", 11, 2.0, "python", v2)
    assert store.file_hash("a.py") == "hash-v1"
    assert sorted(r["name"] for r in store.rows("path=?", ["a.py"])) == ["one", "two"]
    other = sqlite3.connect(str(tmp_path / "index.sqlite"))  # what a restarted server would see
    assert other.execute("SELECT hash FROM files").fetchall() == [("hash-v1",)]
    assert other.execute("SELECT count(*) FROM symbols_fts").fetchone()[0] == 2


def test_sentence_search_works_when_the_first_vectors_arrive_after_an_empty_load(tmp_path: Path) -> None:
    """A search during indexing loaded 0 vectors; appending the first batch then raised
    'could not broadcast (0,0) into (0,32)' on every later search."""
    import numpy as np

    from lsp_server.search import VectorIndex
    root = tmp_path / "ws"
    root.mkdir()
    (root / "a.py").write_text("def read_config(path):\n    return path\n\ndef write_report(x):\n    return x\n")
    ix = _indexer(root, tmp_path)
    ix.scan()
    vectors = VectorIndex()
    vectors.refresh(ix.store, "m", ix.version, journal=ix.changes_since)  # nothing embedded yet
    assert len(vectors) == 0
    rng = np.random.default_rng(0)

    def embed(texts: list[str]) -> np.ndarray:  # stands in for the model: unit vectors
        v = rng.normal(size=(len(texts), 32)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    assert ix.embed_missing(embed, "m") == 2
    vectors.refresh(ix.store, "m", ix.version, journal=ix.changes_since)
    assert len(vectors) == 2
    assert len(vectors.nearest(embed(["q"])[0], 5)) == 2


def test_every_skipped_file_gets_its_log_line(tmp_path: Path, caplog) -> None:
    """Only the first 20 skipped files were logged."""
    from lsp_server.engine import Engine
    from lsp_server.options import ServerOptions
    root = tmp_path / "ws"
    root.mkdir()
    for i in range(25):
        (root / f"blob{i}.js").write_bytes(b"\x00binary" * 10)
    options = ServerOptions()
    options.index.cache_dir = str(tmp_path / "cache")
    engine = Engine(options)
    try:
        engine.add_root(root)
        with caplog.at_level(logging.INFO, "lsp_server"):
            engine.index_all()
    finally:
        engine.close()
    logged = [r for r in caplog.records if "binary file" in r.getMessage()]
    assert len(logged) == 25
