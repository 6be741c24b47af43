"""Faults: the model bundle truncated or swapped mid-session, the index file deleted or made
read-only, the disk full, a workspace file changing while it is read. The server survives
each with a clear message and its index stays consistent (`index_check`)."""
from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

from lsp_server.engine import index_path
from tests.support.faults import read_only, small_disk
from tests.support.index_check import fresh_snapshot, problems, snapshot
from tests.support.lsp_session import EXAMPLE
from tests.support.raw_client import RawClient
from tests.support.trees import make_tree


def _workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(EXAMPLE, root)
    return root


def _messages(client: RawClient) -> list[str]:
    return [n["params"]["message"] for n in client.notifications if n.get("method") == "window/showMessage"]


def _find(client: RawClient, name: str, timeout: float = 20) -> list:
    end = time.monotonic() + timeout
    while True:
        hits = client.request("workspace/symbol", {"query": name})["result"] or []
        if any(h["name"] == name for h in hits) or time.monotonic() > end:
            return hits
        time.sleep(0.2)


def _save(client: RawClient, path: Path, text: str) -> None:
    path.write_text(text)
    client.notify("textDocument/didSave", {"textDocument": {"uri": path.as_uri()}})


def _still_serving(client: RawClient, root: Path) -> None:
    uri = (root / "bookshelf/catalog.py").as_uri()
    for method, params in (("textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 21, "character": 8}}),
                           ("textDocument/inlineCompletion", {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0},
                                                              "context": {"triggerKind": 1}}),
                           ("workspace/symbol", {"query": "Catalog"}), ("codet5p/getStatus", {})):
        answer = client.request(method, params, timeout=30)
        assert "result" in answer, (method, answer)
    assert client.alive()


@pytest.mark.parametrize("fault", ["truncated", "swapped"])
def test_bundle_damaged_mid_session(fault: str, tmp_path: Path, tiny_bundle: Path, stress_options) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, bundle)
    root = _workspace(tmp_path)
    client = RawClient(tmp_path / "server.log")
    try:
        client.initialize(root, stress_options(bundle, tmp_path / "cache"))
        client.wait_until(lambda c: c.indexed(), 120)
        enc, dec = bundle / "encoder.int8.onnx", bundle / "decoder.int8.onnx"
        if fault == "truncated":
            enc.write_bytes(enc.read_bytes()[: enc.stat().st_size // 2])
        else:
            a, b = enc.read_bytes(), dec.read_bytes()
            enc.write_bytes(b)
            dec.write_bytes(a)
        _still_serving(client, root)  # the loaded model is in memory: unaffected
        # a reload (any model option change) meets the damaged files
        client.notify("workspace/didChangeConfiguration", {"settings": {"codet5p": {
            "model": {"path": str(bundle), "threads": 2}, "index": {"cacheDir": str(tmp_path / "cache")}}}})
        client.wait_until(lambda c: c.statuses()[-1]["model"]["state"] in ("error", "missing")
                          and any("falls back to lexical" in m for m in _messages(c)), 60)
        status = client.statuses()[-1]["model"]
        assert status["state"] == "error" and ("encoder" in status["message"] or "decoder" in status["message"]), status
        assert any("falls back to lexical" in m for m in _messages(client)), _messages(client)
        _still_serving(client, root)
        assert _find(client, "Catalog")  # lexical search still answers
    finally:
        assert client.close() == 0


def test_index_file_deleted_mid_session(tmp_path: Path, tiny_bundle: Path, stress_options) -> None:
    root = _workspace(tmp_path)
    cache = tmp_path / "cache"
    client = RawClient(tmp_path / "server.log")
    try:
        client.initialize(root, stress_options(tiny_bundle, cache))
        client.wait_until(lambda c: c.indexed(), 120)
        db = index_path(root, str(cache))
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        _save(client, root / "bookshelf/added.py", "def added_after_delete(x):\n    return x\n")
        assert any(h["name"] == "added_after_delete" for h in _find(client, "added_after_delete"))
        assert _find(client, "Catalog")  # what was indexed before is still there
        _still_serving(client, root)
    finally:
        assert client.close() == 0
    assert "was deleted while the server ran; restoring it" in client.stderr_text()
    assert problems(snapshot(db), fresh_snapshot(root, tmp_path / "fresh")) == []


def test_index_made_read_only(tmp_path: Path, tiny_bundle: Path, stress_options) -> None:
    """Mid-session and for a server started on it: the server keeps answering, says indexing
    failed, and after the disk is writable again a restart leaves a consistent index."""
    root = _workspace(tmp_path)
    cache = tmp_path / "cache"
    db = index_path(root, str(cache))
    options = stress_options(tiny_bundle, cache)
    client = RawClient(tmp_path / "server.log")
    try:
        client.initialize(root, options)
        client.wait_until(lambda c: c.indexed(), 120)
        with read_only(db.parent) as how:
            _save(client, root / "bookshelf/added.py", "def added_read_only(x):\n    return x\n")
            _still_serving(client, root)
            assert _find(client, "Catalog", timeout=1)
            (root / "bookshelf/ro_new.py").write_text("def needs_a_write(x):\n    return x\n")
            second = RawClient(tmp_path / "server-ro.log")  # a new server that must write to it
            try:
                second.initialize(root, options)
                second.wait_until(lambda c: any("indexing failed" in m for m in _messages(c)), 60)
                assert any("readonly" in m or "read-only" in m for m in _messages(second)), _messages(second)
                _still_serving(second, root)
                print("read-only by", how, _messages(second))
            finally:
                assert second.close() == 0
        # writable again: the same session indexes saves again
        _save(client, root / "bookshelf/added.py", "def added_writable(x):\n    return x\n")
        assert any(h["name"] == "added_writable" for h in _find(client, "added_writable"))
    finally:
        assert client.close() == 0
    # and a restart picks up what was missed while it was read-only
    client = RawClient(tmp_path / "server-after.log")
    try:
        client.initialize(root, options)
        client.wait_until(lambda c: c.indexed(), 120)
        assert any(h["name"] == "needs_a_write" for h in _find(client, "needs_a_write"))
    finally:
        assert client.close() == 0
    assert problems(snapshot(db), fresh_snapshot(root, tmp_path / "fresh")) == []


def test_disk_full_while_indexing(tmp_path: Path, tiny_bundle: Path, stress_options) -> None:
    root = make_tree(tmp_path / "ws", 400, functions_per_file=4)
    cache = tmp_path / "cache"
    with small_disk(cache, 192) as (how, preexec):
        client = RawClient(tmp_path / "server.log", preexec_fn=preexec)
        try:
            client.initialize(root, stress_options(tiny_bundle, cache))
            client.wait_until(lambda c: any("indexing failed" in m for m in _messages(c)), 180)
            assert any(w in m for m in _messages(client) for w in ("full", "I/O", "large")), (how, _messages(client))
            for query in ("read_config", "parse the user order file"):
                assert "result" in client.request("workspace/symbol", {"query": query})
            assert "result" in client.request("codet5p/getStatus", {})
        finally:
            assert client.close() == 0
        print("disk full by", how)
        db = index_path(root, str(cache))
        full = snapshot(db)
    fresh = fresh_snapshot(root, tmp_path / "fresh")
    assert problems(full, fresh, partial=True) == []  # what made it in is whole
    assert len(full.files) < len(fresh.files)


def test_workspace_file_changing_while_read(tmp_path: Path, tiny_bundle: Path, stress_options) -> None:
    root = make_tree(tmp_path / "ws", 300)
    hot = root / "pkg0000" / "hot.py"
    versions = [f"def hot_version_{v}(x):\n    return x\n" * (1 + v % 5) for v in range(50)]
    hot.write_text(versions[0])
    stop = threading.Event()

    def rewrite() -> None:
        v = 0
        while not stop.is_set():
            v += 1
            with open(hot, "w") as fh:  # truncate, then write in two pieces: readers see partial files
                text = versions[v % len(versions)]
                fh.write(text[: len(text) // 2])
                fh.flush()
                fh.write(text[len(text) // 2:])

    writer = threading.Thread(target=rewrite, daemon=True)
    client = RawClient(tmp_path / "server.log")
    try:
        client.initialize(root, stress_options(tiny_bundle, tmp_path / "cache"))
        writer.start()
        client.wait_until(lambda c: c.indexed(), 120)
        stop.set()
        writer.join()
        final = "def hot_final_version(x):\n    return x\n"
        hot.write_text(final)
        client.notify("workspace/didChangeWatchedFiles", {"changes": [{"uri": hot.as_uri(), "type": 2}]})
        assert any(h["name"] == "hot_final_version" for h in _find(client, "hot_final_version"))
    finally:
        stop.set()
        assert client.close() == 0
    db = index_path(root, str(tmp_path / "cache"))
    assert problems(snapshot(db), fresh_snapshot(root, tmp_path / "fresh")) == []
