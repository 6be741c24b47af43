"""Bad files: skipped or read safely, one log line each, and nothing outside the workspace
opened or listed (checked by tracing the server's `open`/`scandir` calls with an audit hook)."""
from __future__ import annotations

import time
from pathlib import Path

from tests.support.bad_files import READ, SKIPPED, make_bad_workspace
from tests.support.raw_client import RawClient
from tests.support.trace_check import Trace

TRACED = ("-m", "tests.support.traced_serve")


def test_bad_files_are_skipped_once_and_nothing_outside_is_opened(tmp_path: Path, tiny_bundle: Path,
                                                                  outside: Path, stress_options) -> None:
    root = make_bad_workspace(tmp_path / "ws", outside)
    trace_file = tmp_path / "trace.jsonl"
    client = RawClient(tmp_path / "server.log", launcher=TRACED, env_extra={"CODET5P_TRACE": str(trace_file)})
    try:
        client.initialize(root, stress_options(tiny_bundle, tmp_path / "cache"))
        client.wait_until(lambda c: c.indexed(), 120)
        log = client.stderr_text()
        for name, why in SKIPPED.items():
            shown = name.encode("unicode_escape").decode() if "\udce9" in name else name
            lines = [l for l in log.splitlines() if shown in l and why in l]
            assert len(lines) == 1, (name, why, lines)
        for name, fn in READ.items():  # odd names are read and indexed
            hits = client.request("workspace/symbol", {"query": fn})["result"]
            assert [h["name"] for h in hits] == [fn], (name, hits)
            assert hits[0]["location"]["uri"] == (root / name).resolve().as_uri()
        assert client.request("workspace/symbol", {"query": "secret_function"})["result"] == []
        # requests on every bad file are answered (a FIFO used to block a request thread for good)
        for name in [*SKIPPED, "vanished.py"]:
            uri = (root / name).as_uri()
            for _ in range(2):
                client.notify("textDocument/didSave", {"textDocument": {"uri": uri}})
            for method, extra in (("textDocument/hover", {}),
                                  ("textDocument/inlineCompletion", {"context": {"triggerKind": 1}})):
                answer = client.request(method, {"textDocument": {"uri": uri},
                                                 "position": {"line": 0, "character": 1}, **extra}, timeout=20)
                assert answer.get("result") is None and "error" not in answer, (name, answer)
        # the 50 MB single line opened in the editor: answered, typing not blocked
        text = (root / "huge_line.py").read_text()
        uri = (root / "huge_line.py").as_uri()
        client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python",
                                                                "version": 1, "text": text}})
        t0 = time.monotonic()
        answer = client.request("textDocument/inlineCompletion", {
            "textDocument": {"uri": uri}, "position": {"line": 0, "character": len(text) - 2},
            "context": {"triggerKind": 1}}, timeout=60)
        assert "result" in answer, answer
        huge_ms = (time.monotonic() - t0) * 1000
        hover = client.request("textDocument/hover", {"textDocument": {"uri": uri},
                                                      "position": {"line": 0, "character": 3}}, timeout=60)
        assert "result" in hover, hover
        print(f"completion on a 50 MB line: {huge_ms:.0f} ms")
    finally:
        assert client.close() == 0
    trace = Trace.load(trace_file)
    assert trace.events, "the tracer recorded nothing"
    assert trace.touched_under(outside) == []
    opened_here = [p for p in trace.paths_touched() if p.startswith(str(tmp_path))]
    allowed = (str(root), str(tmp_path / "cache"))
    assert opened_here and all(p.startswith(allowed) for p in opened_here), \
        [p for p in opened_here if not p.startswith(allowed)][:5]
