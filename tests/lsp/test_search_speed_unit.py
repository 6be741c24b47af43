"""The search speed-ups keep their results: incremental in-memory vectors, the FTS postings
budget, length-sorted matching batches, ONNX Runtime's workers spinning only inside a run."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from lsp_server.indexer import Indexer, symbol_embedding_text
from lsp_server.search import VectorIndex, quantize_rows
from lsp_server.store import Store


def fake_embed(texts: list[str]) -> np.ndarray:
    """Deterministic unit vectors from the text (the bookkeeping under test does not care)."""
    out = []
    for t in texts:
        seed = int(hashlib.sha1(t.encode()).hexdigest()[:8], 16)
        v = np.random.default_rng(seed).standard_normal(8).astype(np.float32)
        out.append(v / np.linalg.norm(v))
    return np.vstack(out)


def same_as_store(vectors: VectorIndex, store: Store, model: str) -> None:
    ids, matrix = store.embedding_matrix(model)
    live = vectors.ids[:vectors.n] >= 0
    got = dict(zip(vectors.ids[:vectors.n][live].tolist(), vectors.vectors()[live]))
    assert sorted(got) == ids.tolist() and len(vectors) == len(ids)
    for sid, vec in zip(ids.tolist(), matrix):  # int8 rows: within half a step of the row's scale
        assert np.abs(got[sid] - vec).max() <= np.abs(vec).max() / 254 + 1e-6
    if len(ids):  # every symbol finds itself first
        for sid, vec in zip(ids.tolist(), matrix):
            assert vectors.nearest(vec, 1)[0][0] == sid


def test_vectors_follow_file_changes_incrementally(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "a.py").write_text("def alpha():\n    return 1\n\n\ndef beta(x):\n    return x\n")
    (root / "b.py").write_text("class Gamma:\n    def delta(self):\n        return 2\n")
    store = Store(tmp_path / "i.sqlite")
    ix = Indexer(root, store)
    ix.scan()
    ix.embed_missing(fake_embed, "m")
    vectors = VectorIndex()
    vectors.refresh(store, "m", ix.version, journal=ix.changes_since)
    same_as_store(vectors, store, "m")
    assert len(vectors) == 4
    loaded_at = vectors.loaded_at

    ix.update_text(root / "a.py", "def alpha():\n    return 10\n\n\ndef epsilon():\n    return 3\n")
    (root / "b.py").unlink()
    ix.remove(root / "b.py")
    (root / "c.py").write_text("def zeta(y):\n    return y * 2\n")
    ix.index_file(root / "c.py")
    # symbols without vectors yet are not searchable, and deleted ones are gone
    vectors.refresh(store, "m", ix.version, min_interval=0.0, journal=ix.changes_since)
    same_as_store(vectors, store, "m")
    ix.embed_missing(fake_embed, "m")
    vectors.refresh(store, "m", ix.version, min_interval=0.0, journal=ix.changes_since)
    assert vectors.loaded_at == loaded_at  # applied from the journal, no full reload
    same_as_store(vectors, store, "m")
    names = {r["name"] for r in store.rows(limit=50)}
    assert names == {"alpha", "epsilon", "zeta"} and len(vectors) == 3
    assert vectors.dead > 0
    vectors._compact()
    assert vectors.dead == 0 and vectors.n == 3
    same_as_store(vectors, store, "m")

    ix.update_text(root / "c.py", "def zeta(y):\n    return y\n")
    ix.embed_missing(fake_embed, "m")
    while ix.journal[0][0] <= vectors.version + 1:  # the journal no longer reaches back:
        ix.journal.popleft()  # a full reload
    vectors.refresh(store, "m", ix.version, min_interval=0.0, journal=ix.changes_since)
    assert vectors.loaded_at > loaded_at
    same_as_store(vectors, store, "m")
    assert ix.changes_since(ix.version) == (set(), set()) and ix.changes_since(ix.version + 5) is None


def test_embedding_text_is_compact() -> None:
    row = {"kind": "function", "name": "load", "container": "Config", "docstring": "Load it.\n\nLong part.",
           "code": "def load(self):\n" + "    x = 1\n" * 1000}
    text = symbol_embedding_text(row)
    assert text.startswith("function Config.load\nLoad it.\ndef load(self):") and "Long part" not in text
    assert len(text) <= 16 * 128


def test_fts_budget_drops_common_words_first(tmp_path: Path) -> None:
    from lsp_server.symbols import extract_symbols
    store = Store(tmp_path / "i.sqlite")
    src = "".join(f"def read_file_{i}(path):\n    pass\n\n\n" for i in range(30))
    src += "def parse_config_file(path):\n    pass\n\n\ndef parsing_helper():\n    pass\n"
    store.replace_file("a.py", "h", 1, 0.0, "python", extract_symbols(src, "python"))
    # "files" stems to "file" (32 rows), "parsing" to "pars" (2 rows): the rare stem goes first
    assert store._budget_terms(["files", "parsing"], max_postings=10) == ["parsing"]
    assert store._budget_terms(["files", "parsing"], max_postings=100) == ["parsing", "files"]
    assert store._budget_terms(["nothing", "files"], max_postings=1) == ["nothing"]
    top = [store.symbols_by_ids([sid])[sid]["name"] for sid, _ in store.fts("parse the config files", 5)]
    assert top[0] == "parse_config_file"
    full = [sid for sid, _ in store.fts("read files", 50, max_postings=10**6)]
    assert len(full) == 31  # within the budget nothing is dropped


@pytest.fixture(scope="module")
def runtime(tiny_bundle: Path):
    from model.runtime import Runtime
    # fp32: int8 graphs quantise activations per batch, so batched and single scores differ by
    # up to ~0.01 there (seen in CI), as much as two codes' scores differ from each other
    return Runtime.load(tiny_bundle, threads=1, precision="fp32")


def test_match_scores_sorted_batches_keep_order(runtime) -> None:
    codes = ["def add(a, b):\n    return a + b\n" * 4, "x = 1", "def read(p):\n    return open(p).read()\n",
             "class A:\n    pass\n" * 3]
    one_by_one = np.array([runtime.match_scores("add two numbers", [c])[0] for c in codes])
    together = runtime.match_scores("add two numbers", codes, batch_size=3)
    assert np.allclose(one_by_one, together, atol=1e-4)
    assert np.ptp(together) > 1e-3  # distinct scores: a shuffled order would be caught
    short = runtime.match_scores("add two numbers", codes, max_code_length=8)
    assert short.shape == (4,) and not np.allclose(short, together, atol=1e-6)


def test_runtime_session_options(tiny_bundle: Path, runtime) -> None:
    """Workers may spin inside a run but stop at its end (`spin=True` lets them spin on); no
    memory arena."""
    from model.runtime import Runtime
    stop = "session.force_spinning_stop"

    def entry(rt: Runtime, key: str) -> str:
        try:
            return rt._encoder.get_session_options().get_session_config_entry(key)
        except RuntimeError:  # not set: ONNX Runtime's default
            return ""

    assert entry(runtime, "session.intra_op.allow_spinning") == "1"
    assert entry(runtime, stop) == "1"
    assert runtime._encoder.get_session_options().enable_cpu_mem_arena is False  # no resident arena
    spinning = Runtime.load(tiny_bundle, threads=1, spin=True, precision="fp32")
    assert entry(spinning, stop) != "1"
    assert np.allclose(spinning.embed(["x = 1"]), runtime.embed(["x = 1"]), atol=1e-5)


def test_int8_rows_rank_like_float32() -> None:
    """The index holds int8 rows with a scale each: a row comes back within half a step, a zero
    row stays zero, and nearest-neighbour lists match the float32 ones."""
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((3000, 64)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    vecs[7] = 0.0
    rows, scales = quantize_rows(vecs)
    assert rows.dtype == np.int8 and scales.dtype == np.float32 and scales[7] == 0 and not rows[7].any()
    assert np.abs(rows * scales[:, None] - vecs).max() <= scales.max() / 2 + 1e-7
    index = VectorIndex()
    index._append(np.arange(3000, dtype=np.int64), ["a.py"] * 3000, vecs)
    assert index.matrix.dtype == np.int8 and index.nbytes < vecs.nbytes / 3
    same = 0
    for q in vecs[100:150] + 0.3 * rng.standard_normal((50, 64)).astype(np.float32):
        exact = np.argsort(-(vecs @ q))[:10]
        got = index.nearest(q, 10)
        assert got[0][0] == exact[0]
        assert abs(got[0][1] - float(vecs[exact[0]] @ q)) < 0.02
        same += set(exact.tolist()) == {sid for sid, _ in got}
    assert same >= 45
    with pytest.raises(ValueError, match="matrix"):
        quantize_rows(np.zeros(4, np.float32))
