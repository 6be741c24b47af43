"""Load: typing storms with completions and cancellations on several documents at once, and
interactive requests while a tree is indexed. Every request is answered; figures are printed
(bench/stress.py records them at full size)."""
from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

from tests.support.load import interactive_while_indexing, typing_storm
from tests.support.lsp_session import EXAMPLE
from tests.support.raw_client import RawClient
from tests.support.trees import make_tree

EDITS = 300  # bench/stress.py: 1,000
TREE_FILES = 2000  # bench/stress.py: 50,000


def test_typing_storm_with_cancellations(tmp_path: Path, tiny_bundle: Path, stress_options) -> None:
    root = tmp_path / "ws"
    shutil.copytree(EXAMPLE, root)
    client = RawClient(tmp_path / "server.log")
    try:
        client.initialize(root, stress_options(tiny_bundle, tmp_path / "cache"))
        client.wait_until(lambda c: c.indexed(), 120)
        figures = typing_storm(client, root, EDITS)
        print({k: v for k, v in figures.items() if k not in ("texts", "uris")})
        assert figures["unanswered"] == 0 and figures["other_errors"] == []
        assert figures["answered_with_result"] + figures["answered_cancelled"] == figures["completions_sent"]
        assert all(f["ok"] for f in figures["final_completion"])
        assert max(f["ms"] for f in figures["final_completion"]) < 15_000
        assert figures["rss_kb_after"] - figures["rss_kb_before"] < 300_000
        # the server applied every incremental edit: the last function typed in each document is
        # found by search once the debounced re-index has run
        for text in figures["texts"]:
            last = re.findall(r"def (storm_\d+_\d+)\(x\):\n", text)[-1]
            _wait_found(client, last)
    finally:
        client.close()


def _wait_found(client: RawClient, name: str, timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        hits = client.request("workspace/symbol", {"query": name})["result"] or []
        if any(h["name"] == name for h in hits):
            return
        time.sleep(0.3)
    raise AssertionError(f"{name} typed but never indexed")


def test_interactive_requests_while_indexing_a_tree(tmp_path: Path, tiny_bundle: Path, stress_options) -> None:
    root = make_tree(tmp_path / "ws", TREE_FILES)
    probe = root / "probe.py"
    text = "import os\n\ndef read_config(path):\n    return open(path).read()\n"
    probe.write_text(text)
    client = RawClient(tmp_path / "server.log")
    try:
        client.initialize(root, stress_options(tiny_bundle, tmp_path / "cache"))
        figures = interactive_while_indexing(client, probe.as_uri(), text, max_seconds=90, min_requests=8)
        print(figures)
        assert figures["unanswered"] == 0 and figures["errors"] == 0
        assert figures["requests_during_indexing"] >= 4, figures
        assert figures["p95_ms"] < 10_000, figures  # lenient: 2 shared cores; the bench records it
    finally:
        client.close()
