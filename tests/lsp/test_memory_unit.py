"""Vectors are loaded in chunks, with the same result as before, and freed heap is returned."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from lsp_server import store as store_mod
from lsp_server.memory import release_free_memory
from lsp_server.store import Store


def test_release_free_memory_runs() -> None:
    assert release_free_memory() in (True, False)  # glibc: True; elsewhere a no-op
    assert release_free_memory() in (True, False)  # looked up once, safe to call again


def test_vectors_load_in_chunks_like_one_read(tmp_path: Path, monkeypatch) -> None:
    """Rows across several chunks (float32 rows among float16 ones) come back in id order, with
    their paths, exactly as one read gives them."""
    from lsp_server.symbols import extract_symbols

    st = Store(tmp_path / "ix.sqlite")
    try:
        for f in range(4):
            code = "".join(f"def fn_{f}_{i}(x):\n    return x + {i}\n\n\n" for i in range(6))
            st.replace_file(f"f{f}.py", f"h{f}", 1, 0.0, "python", extract_symbols(code, "python"))
        missing = [h for h, _ in st.hashes_missing_embedding("m")]
        assert len(missing) == 24
        vecs = np.random.default_rng(0).standard_normal((24, 8)).astype(np.float32)
        st.put_embeddings("m", missing[:20], vecs[:20])
        st.embedding_dtype = "float32"
        st.put_embeddings("m", missing[20:], vecs[20:])
        ids1, paths1, mat1 = st.embedding_rows("m")
        monkeypatch.setattr(store_mod, "EMBEDDING_CHUNK", 5)
        ids2, paths2, mat2 = st.embedding_rows("m")
        assert ids2.tolist() == ids1.tolist() == sorted(ids1.tolist()) and len(ids1) == 24
        assert paths2 == paths1 and set(paths1) == {f"f{f}.py" for f in range(4)}
        np.testing.assert_array_equal(mat2, mat1)
        assert mat1.shape == (24, 8) and mat1.dtype == np.float32
        by_hash = dict(zip(missing, vecs))
        rows = st.symbols_by_ids(ids1.tolist())
        for sid, row in zip(ids1.tolist(), mat1):
            np.testing.assert_allclose(row, by_hash[rows[sid]["hash"]], atol=5e-3)  # float16 blobs
    finally:
        st.close()
