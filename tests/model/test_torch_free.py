"""The runtime and the language server import and run in an interpreter where torch cannot load."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BLOCKED = ("torch", "transformers", "optimum", "onnx", "safetensors")

SITECUSTOMIZE = textwrap.dedent(f"""
    import sys

    class _Blocker:
        blocked = {BLOCKED!r}

        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in self.blocked:
                raise ImportError(f"{{name}} is blocked in this interpreter (torch-free check)")
            return None

    sys.meta_path.insert(0, _Blocker())
""")

SCRIPT = textwrap.dedent("""
    import importlib, pkgutil, sys
    from pathlib import Path
    try:
        import torch  # noqa: F401
    except ImportError:
        pass
    else:
        raise SystemExit("blocker not active")
    import model.runtime
    from model.runtime import GenerationConfig, Runtime
    names = ["model.runtime", "model.cli"]
    if (Path(sys.argv[2]) / "lsp_server").is_dir():
        import lsp_server
        names += [m.name for m in pkgutil.walk_packages(lsp_server.__path__, "lsp_server.")
                  if not m.name.endswith("__main__")]
    for name in names:
        importlib.import_module(name)
    rt = Runtime.load(sys.argv[1], threads=1)
    assert rt.embed(["def f(): pass"]).shape[0] == 1
    g = rt.complete("def f(x):\\n    return ", "", GenerationConfig(max_new_tokens=4))
    assert rt.match_scores("f", ["def f(): pass"]).shape == (1,)
    bad = sorted(m for m in sys.modules if m.split(".")[0] in %r)
    assert not bad, bad
    print("OK", len(names), "modules", len(g.token_ids))
""" % (BLOCKED,))


def test_runtime_and_server_import_without_torch(tiny_bundle, tmp_path):
    (tmp_path / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(REPO)]), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tiny_bundle), str(REPO)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("OK"), proc.stdout


def test_blocker_really_blocks_torch(tmp_path):
    (tmp_path / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    proc = subprocess.run([sys.executable, "-c", "import torch"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode != 0 and "blocked" in proc.stderr
