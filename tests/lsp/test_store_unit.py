"""Options parsing, file rules, the SQLite store and search fusion (unit level)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lsp_server.files import FileRules, SkippedFile, read_source, walk
from lsp_server.options import parse_options
from lsp_server.search import VectorIndex, classic_search, hybrid_search, is_identifier_query, rrf
from lsp_server.store import SCHEMA_VERSION, Store, identifier_words
from lsp_server.symbols import extract_symbols


def test_options_validation() -> None:
    opts, problems = parse_options({"model": {"path": "/m", "threads": 0},
                                    "completion": {"deadlineMs": 900, "multiline": "sometimes"},
                                    "index": {"exclude": ["gen/**"], "maxFileSize": "big"}, "oops": 1})
    assert opts.model.path == "/m" and opts.model.threads is None
    assert opts.completion.deadline_ms == 900 and opts.completion.multiline == "auto"
    assert opts.index.exclude == ["gen/**"] and opts.index.max_file_size == 1_000_000
    assert sorted(p.split(":")[0] for p in problems) == ["completion.multiline", "index.maxFileSize",
                                                           "model.threads", "oops"]
    assert parse_options({"codet5p": {"hover": {"budgetMs": 10}}})[0].hover.budget_ms == 10
    assert parse_options("nonsense")[1]


def test_walk_rules(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("gen/\n*.tmp.py\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".gitignore").write_text("local.py\n")
    for rel in ("a.py", "b.tmp.py", "gen/c.py", "sub/local.py", "sub/d.ts", "node_modules/e.js",
                "notes.txt", "x/excluded.go"):
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("x")
    got = sorted(p.relative_to(tmp_path).as_posix() for p in walk(tmp_path, FileRules(exclude=("x/**",))))
    assert got == ["a.py", "sub/d.ts"]
    (tmp_path / "big.py").write_text("#" * 50)
    with pytest.raises(SkippedFile, match="big.py.*over the 10-byte limit"):
        read_source(tmp_path / "big.py", tmp_path, FileRules(max_file_size=10))
    (tmp_path / "bad.py").write_bytes(b"\xff\xfe")
    with pytest.raises(SkippedFile, match="not valid UTF-8"):
        read_source(tmp_path / "bad.py", tmp_path)


def test_store_roundtrip_fts_vectors_and_rebuild(tmp_path: Path) -> None:
    store = Store(tmp_path / "i.sqlite")
    syms = extract_symbols('def parse_http_request(data):\n    """Parse an HTTP request."""\n\n\n'
                           'class Cache:\n    def get(self, key):\n        pass\n', "python")
    store.replace_file("a.py", "h1", 1, 0.0, "python", syms)
    assert store.counts() == {"files": 1, "symbols": 3, "embeddings": 0}
    assert store.rows("name=?", ["get"])[0]["container"] == "Cache"
    (top, _), *_ = store.fts("parse request")
    assert store.symbols_by_ids([top])[top]["name"] == "parse_http_request"
    missing = store.hashes_missing_embedding("m1")
    vecs = np.eye(3, 4, dtype=np.float32)
    store.put_embeddings("m1", [h for h, _ in missing], vecs)
    assert store.hashes_missing_embedding("m1") == [] and len(store.hashes_missing_embedding("m2")) == 3
    ids, matrix = store.embedding_matrix("m1")
    assert matrix.shape == (3, 4) and matrix.dtype == np.float32 and np.allclose(np.sort(matrix.sum(1)), 1)
    blob = store.db.execute("SELECT vector FROM embeddings LIMIT 1").fetchone()[0]
    assert len(blob) == 4 * 2  # float16: 2 bytes per dimension
    store.close()
    (tmp_path / "i.sqlite").write_bytes(b"garbage" * 50)
    rebuilt = Store(tmp_path / "i.sqlite")
    assert rebuilt.rebuilt_reason and "corrupt" in rebuilt.rebuilt_reason
    assert rebuilt.counts()["symbols"] == 0
    assert rebuilt.db.execute("SELECT value FROM meta").fetchone()[0] == str(SCHEMA_VERSION)


def test_search_pieces(tmp_path: Path) -> None:
    assert identifier_words("parseHTTPRequest_v2") == "parse http request v 2"
    assert is_identifier_query("Store.Put") and is_identifier_query("fetchB")
    assert not is_identifier_query("read the config")
    assert rrf([[1, 2, 3], [3, 1]])[:2] == [(1, 1 / 61 + 1 / 62), (3, 1 / 63 + 1 / 61)]
    store = Store(tmp_path / "s.sqlite")
    syms = extract_symbols("def load_config():\n    pass\n\n\ndef save_config():\n    pass\n\n\n"
                           "def unrelated():\n    pass\n", "python")
    store.replace_file("a.py", "h", 1, 0.0, "python", syms)
    assert [h.row["name"] for h in classic_search(store, "load_config")][0] == "load_config"
    assert [h.row["name"] for h in classic_search(store, "lcfg")] == ["load_config"]
    # semantic side: the query vector points at `unrelated`; re-rank puts `save_config` first
    hashes = {r["name"]: r["hash"] for r in store.rows()}
    store.put_embeddings("m", [hashes["load_config"], hashes["save_config"], hashes["unrelated"]],
                         np.array([[1, 0], [0.6, 0.8], [0, 1]], dtype=np.float32))
    vectors = VectorIndex()
    vectors.refresh(store, "m", 1)
    hits = hybrid_search(store, "load configuration", vectors, lambda q: np.array([0.0, 1.0]), None)
    assert {h.row["name"] for h in hits} == {"load_config", "save_config", "unrelated"}
    assert "lexical" in hits[0].sources
    reranked = hybrid_search(store, "load configuration", vectors, lambda q: np.array([0.0, 1.0]),
                             lambda q, codes: np.array([0.9 if "save_config" in c else 0.1 for c in codes]))
    assert reranked[0].row["name"] == "save_config" and "rerank" in reranked[0].sources
    # the likelihood re-rank: z(cosine) + w z(log P(query | code)); None (not scored in time) skips it
    base = [h.row["name"] for h in hits]
    liked = hybrid_search(store, "load configuration", vectors, lambda q: np.array([0.0, 1.0]), None,
                          likelihood=lambda q, codes: np.array([-1.0 if "save_config" in c else -40.0 for c in codes]),
                          likelihood_weight=2.0)
    assert liked[0].row["name"] == "save_config" and "rerank" in liked[0].sources
    skipped = hybrid_search(store, "load configuration", vectors, lambda q: np.array([0.0, 1.0]), None,
                            likelihood=lambda q, codes: None)
    assert [h.row["name"] for h in skipped] == base and not any("rerank" in h.sources for h in skipped)


def test_write_on_a_connection_stuck_read_only_reconnects(tmp_path: Path) -> None:
    """SQLite keeps a connection opened while the index was not writable read-only for good:
    the write is retried once on a fresh connection (found by the read-only fault test)."""
    import sqlite3

    import sqlite_utils

    store = Store(tmp_path / "index.sqlite")
    conn = sqlite3.connect(f"file:{tmp_path / 'index.sqlite'}?mode=ro", uri=True)
    store._local.db, store._local.generation = sqlite_utils.Database(conn), store._generation
    store.put_summary("h", "m", "a summary")  # raised "attempt to write a readonly database"
    assert store.summary("h", "m") == "a summary"
    store.close()
