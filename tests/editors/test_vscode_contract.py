"""The VS Code extension's own logic against the REAL server, through Node without VS Code.

`editors/vscode/contract/serverContract.ts` (compiled by `editors/ci.sh`, which CI runs before
`make test`) starts the server as the extension does (`codet5p.server.pythonPath`), sends the
package.json settings mapping as initializationOptions, and formats the server's answers with the
extension's modules: inline items, the search quick pick and the status-bar views.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

VSCODE = Path(__file__).resolve().parents[2] / "editors" / "vscode"
SCRIPT = VSCODE / "out" / "contract" / "serverContract.js"


@pytest.fixture(scope="module")
def contract_script() -> Path:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (the VS Code extension is built by editors/ci.sh)")
    if not SCRIPT.exists():
        if not (VSCODE / "node_modules").is_dir():
            pytest.skip("the VS Code extension is not built: run `bash editors/ci.sh` first")
        subprocess.run(["npx", "--no-install", "tsc", "-p", "."], cwd=VSCODE, check=True, timeout=300)
    return SCRIPT


def test_extension_logic_against_real_server(contract_script, editor, editor_workspace, completing_bundle, tmp_path):
    query = "area of a circle from the radius"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(VSCODE.parents[1]), os.environ.get("PYTHONPATH")])),
           "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        ["node", str(contract_script), sys.executable, str(editor_workspace), str(completing_bundle),
         str(tmp_path / "cache"), "geometry.py", editor.typed, query],
        capture_output=True, text=True, timeout=150, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    # The extension's command resolution and settings mapping.
    assert out["command"]["args"][:3] == ["-m", "lsp_server", "serve"]
    assert out["options"]["model"]["path"] == str(completing_bundle)
    assert out["options"]["completion"]["maxNewTokens"] == 48
    assert out["options"]["completion"]["deadlineMs"] == 20000
    assert not any(v["text"].startswith("message: CodeT5+: option") for v in out["views"]), out["views"]
    # Inline completion, as the extension's provider would hand it to VS Code.
    assert out["inlineAdvertised"] is True
    lines = ((editor_workspace / "geometry.py").read_text() + editor.typed).split("\n")
    at = {"line": len(lines) - 1, "character": len(lines[-1])}
    assert out["inline"] == [{"insertText": editor.completion, "snippet": False, "range": {"start": at, "end": at}}]
    # Search quick pick: ranked, formatted, first is the described function.
    first = out["picks"][0]
    assert first["label"] == "$(symbol-function) circle_area"
    assert first["description"] == "geometry.py:5"
    assert first["range"]["start"]["line"] == 4
    assert out["picksAfterConfigChange"][0] == "$(symbol-function) circle_area"
    # Status bar: loading, then indexing, then ready.
    texts = [v["text"] for v in out["views"]]
    assert "$(sync~spin) CodeT5+ indexing" in texts
    assert texts[-1] == "$(check) CodeT5+"
    assert texts.index("$(sync~spin) CodeT5+ indexing") < len(texts) - 1
