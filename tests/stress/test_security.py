"""Security checks as tests: `serve` opens no network socket, never imports or executes
workspace code, never loads a pickle. Checked with the audit-hook tracer (and with strace
when it is installed); a self-test proves the tracer sees each of these when they happen."""
from __future__ import annotations

import os
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path


from tests.support.lsp_session import EXAMPLE
from tests.support.raw_client import REPO, RawClient
from tests.support.trace_check import Trace

TRACED = ("-m", "tests.support.traced_serve")


class _Boom:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))  # unpickling creates the marker file


def _hostile_workspace(root: Path, marker: Path) -> None:
    shutil.copytree(EXAMPLE, root)
    payload = f"open({str(marker)!r}, 'w').write('executed')\n"
    for name in ("evil.py", "setup.py", "conftest.py", "sitecustomize.py", "bookshelf/__main__.py"):
        (root / name).write_text(payload + "\ndef looks_harmless(x):\n    return x\n")
    (root / "bookshelf/__init__.py").write_text(payload)
    (root / "usercustomize.pth").write_text(f"import os; {payload}")
    (root / "model.pkl").write_bytes(pickle.dumps(_Boom(str(marker))))
    (root / "pytorch_model.bin").write_bytes(pickle.dumps(_Boom(str(marker))))


def _exercise(client: RawClient, root: Path) -> None:
    uri = (root / "evil.py").as_uri()
    text = (root / "evil.py").read_text()
    client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python",
                                                            "version": 1, "text": text}})
    for method, params in (
            ("textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 2, "character": 6}}),
            ("textDocument/inlineCompletion", {"textDocument": {"uri": uri}, "position": {"line": 3, "character": 4},
                                               "context": {"triggerKind": 1}}),
            ("textDocument/codeAction", {"textDocument": {"uri": uri}, "range": {"start": {"line": 2, "character": 6},
                                         "end": {"line": 2, "character": 6}}, "context": {"diagnostics": []}}),
            ("workspace/symbol", {"query": "looks_harmless"}),
            ("workspace/symbol", {"query": "open the file and write it"})):
        assert "result" in client.request(method, params, timeout=30)
    client.notify("textDocument/didSave", {"textDocument": {"uri": uri}})
    client.notify("workspace/didChangeWatchedFiles", {"changes": [{"uri": (root / "model.pkl").as_uri(), "type": 2},
                                                                  {"uri": (root / "setup.py").as_uri(), "type": 2}]})
    assert "result" in client.request("codet5p/getStatus", {})


def test_serve_opens_no_socket_runs_no_workspace_code_loads_no_pickle(tmp_path: Path, tiny_bundle: Path,
                                                                       stress_options) -> None:
    root, marker = tmp_path / "ws", tmp_path / "EXECUTED"
    _hostile_workspace(root, marker)
    trace_file, strace_file = tmp_path / "trace.jsonl", tmp_path / "strace.txt"
    strace = shutil.which("strace")
    prefix = (strace, "-f", "-qq", "-e", "trace=socket,socketpair,connect,bind,sendto", "-o", str(strace_file)) if strace else ()
    client = RawClient(tmp_path / "server.log", launcher=TRACED, prefix=prefix,
                       env_extra={"CODET5P_TRACE": str(trace_file)})
    try:
        client.initialize(root, stress_options(tiny_bundle, tmp_path / "cache"))
        client.wait_until(lambda c: c.indexed(), 180)
        _exercise(client, root)
    finally:
        assert client.close() == 0
    assert not marker.exists(), "workspace code ran"
    trace = Trace.load(trace_file)
    assert len(trace.of("import")) > 10 and trace.of("open"), "the tracer recorded nothing"
    assert trace.inet_sockets() == []
    assert trace.code_from(root) == []
    assert trace.pickles() == []
    assert trace.processes() == []
    if strace:  # the same check one level down: every socket(2)/connect(2) of the process tree
        calls = strace_file.read_text()
        assert "socketpair(AF_UNIX" in calls  # strace saw the process: asyncio's self-pipe
        assert re.findall(r"socket\(AF_INET6?,|connect\(\d+, \{sa_family=AF_INET6?", calls) == []


def test_the_tracer_sees_what_it_checks(tmp_path: Path, outside: Path) -> None:
    """Without this, the checks above could pass because the tracer saw nothing."""
    trace_file = tmp_path / "trace.jsonl"
    env = {**os.environ, "CODET5P_TRACE": str(trace_file),
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    subprocess.run([sys.executable, *TRACED, "selftest", str(outside)], env=env, check=True, cwd=REPO, timeout=60)
    trace = Trace.load(trace_file)
    assert trace.touched_under(outside)
    assert trace.inet_sockets()
    assert trace.pickles()
    assert trace.code_from(outside) == [str(outside / "planted_mod.py")]
