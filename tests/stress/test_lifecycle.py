"""Lifecycle edges: a session shut down while the model is still loading exits cleanly (the
process aborted in ONNX Runtime's C++ teardown before: exit status -6)."""
from __future__ import annotations

import shutil
from pathlib import Path

from tests.support.lsp_session import EXAMPLE
from tests.support.raw_client import RawClient


def test_exit_while_the_model_loads(tmp_path: Path, tiny_bundle: Path, stress_options) -> None:
    root = tmp_path / "ws"
    shutil.copytree(EXAMPLE, root)
    for i in range(3):
        client = RawClient(tmp_path / f"server{i}.log")
        client.initialize(root, stress_options(tiny_bundle, tmp_path / "cache"))
        loading = client.request("codet5p/getStatus", {})["result"]["model"]["state"]
        assert client.close() == 0, client.stderr_text()[-2000:]
        assert "Fatal Python error" not in client.stderr_text()
        print("model state at shutdown:", loading)
