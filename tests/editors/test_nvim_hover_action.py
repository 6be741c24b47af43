"""Neovim 0.11 + the real server: attach, `codet5p/status`, hover via `K`, code action via `gra`."""
from __future__ import annotations


def test_attach_status_hover_and_docstring_action(run_nvim, editor, editor_workspace, tiny_bundle, tmp_path):
    run = run_nvim("hover_action", editor_workspace, editor.server_options(tiny_bundle, tmp_path / "cache"))
    r = run.check()
    assert r["attached"] == {"name": "codet5p", "root": str(editor_workspace)}
    # The status notification reached the plugin: model loaded, both files indexed.
    assert r["status"]["model"]["state"] == "ready"
    assert r["status"]["index"]["files"] == 2
    assert r["status"]["index"]["symbols"] >= 7
    assert r["statusline"] == "CodeT5+ ready"
    assert any(s["index"]["state"] == "indexing" for s in run.statuses)
    # K on the call `add(1, 2)` shows the server's card for `add` in a floating window.
    hover = "\n".join(r["hover"])
    assert "def add(a, b)" in hover
    assert "Add two numbers." in hover
    # `gra` lists the server's action; choosing it inserts a docstring under `def main():`.
    assert r["actions"] == ["Generate docstring"]
    assert r["def_line"] == "def main():"
    assert r["after_def"].startswith('    """') and r["after_def"].endswith('"""')
