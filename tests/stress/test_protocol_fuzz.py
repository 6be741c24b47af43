"""Protocol fuzzing through a real stdio client: thousands of hypothesis-drawn messages, the
server answers every request, stays alive after every batch and still works afterwards."""
from __future__ import annotations

import shutil
from pathlib import Path

from tests.support.fuzz import fuzz_targets, run_fuzz
from tests.support.lsp_session import EXAMPLE
from tests.support.raw_client import RawClient

BATCHES = 300  # x 12-25 messages; bench/stress.py sends more than 10,000

FUZZED = "def fuzz_target(x):\n    return x + 1\n"


def test_fuzzed_protocol_traffic(tmp_path: Path, tiny_bundle: Path, outside: Path, stress_options) -> None:
    root = tmp_path / "ws"
    shutil.copytree(EXAMPLE, root)
    (root / "fuzzed.py").write_text(FUZZED)
    client = RawClient(tmp_path / "server.log")
    options = stress_options(tiny_bundle, tmp_path / "cache")
    try:
        client.initialize(root, options)
        client.notify("textDocument/didOpen", {"textDocument": {
            "uri": (root / "fuzzed.py").as_uri(), "languageId": "python", "version": 1, "text": FUZZED}})
        report = run_fuzz(client, fuzz_targets(root, outside / "secret.py"), BATCHES, seed=11)
        assert report.messages >= 4000 and report.requests >= 2000
        assert report.unanswered == 0 and report.answered == report.requests
        assert report.alive_after_every_batch and client.alive()
        assert report.internal_errors == []  # bad input gets InvalidParams/InvalidRequest, not a crash
        assert report.stray_stdout_bytes == 0 and client.bad_frames == 0
        assert set(report.kinds) >= {"short_length", "long_length", "huge_length", "bad_json", "request"}
        # still a working server (the fuzzer changed settings and open buffers: restore the
        # settings, then ask about a file it never touched)
        client.notify("workspace/didChangeConfiguration", {"settings": options})
        hover = client.request("textDocument/hover", {"textDocument": {"uri": (root / "bookshelf/catalog.py").as_uri()},
                                                      "position": {"line": 0, "character": 0}})
        assert "result" in hover
        found = client.request("workspace/symbol", {"query": "NewStore"})
        assert [h["name"] for h in found["result"]] == ["NewStore"], found
    finally:
        code = client.close()
    assert code == 0  # a clean shutdown/exit after all that
